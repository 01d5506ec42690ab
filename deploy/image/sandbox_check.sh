#!/usr/bin/env bash
# Show the code sandbox working in the image with exactly the privileges the Helm chart
# gives it, and failing safely without them:
#
#   1. the pool (sandbox.mode pool, the chart's default): `rewardgate sandbox-serve` as
#      uid 10001, no capabilities, read-only root, seccomp and AppArmor unconfined (user
#      namespaces); the gateway beside it fully restricted, sending code runs there;
#   2. embedded (sandbox.mode embedded): the gateway runs its own cells with the pool's
#      privileges;
#   3. the runtime's default seccomp profile (what a restricted pod has): no user
#      namespaces, so code items answer sandbox_error and nothing runs unsandboxed.
#
#   deploy/image/sandbox_check.sh [TAG]      (as root, after deploy/image/build.sh)
set -euo pipefail
TAG=${1:-localhost/rewardgate:dev}
STORAGE=(--storage-driver=vfs)
RESTRICTED=(--user 10001:10001 --cap-drop ALL --read-only --tmpfs /tmp:rw,size=1g
  --security-opt no-new-privileges)
CELLS=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined)
CODE='{"pipeline": "code", "items": [
  {"id": "correct", "response": "def add(a, b):\n    return a + b\n", "reference": "assert add(1, 2) == 3\n"},
  {"id": "network", "response": "import socket\ntry:\n    socket.create_connection((\"1.1.1.1\", 53), timeout=1)\n    reached = True\nexcept OSError:\n    reached = False\n", "reference": "assert not reached\n"},
  {"id": "forged", "response": "import os\nos._exit(0)\n", "reference": "assert add(1, 2) == 3\n"}]}'

start() {  # $1: name, $2: readiness URL, rest: podman flags, then the image and its command
  local name=$1 ready=$2; shift 2
  podman "${STORAGE[@]}" run -d --name "$name" --runtime runc --cgroup-manager=cgroupfs --network=host \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 "$@" >/dev/null
  until curl -sf "$ready" >/dev/null; do sleep 0.5; done
}

gateway() {  # $1: name, $2: port, rest: extra podman flags
  local name=$1 port=$2; shift 2
  start "$name" "http://127.0.0.1:$port/readyz" "${RESTRICTED[@]}" \
    -e REWARDGATE_PORT="$port" -e REWARDGATE_GRPC_PORT=$((port + 1000)) -e REWARDGATE_VERIFIER_WORKERS=2 \
    "$@" "$TAG"
  curl -s "http://127.0.0.1:$port/v1/score" -H 'content-type: application/json' -d "$CODE"
  echo
}

remove() { podman "${STORAGE[@]}" rm -f "$@" >/dev/null; }

echo "== pool: sandbox-serve (uid 10001, no capabilities, read-only, unconfined) + a restricted gateway"
start rg-sandbox-pool http://127.0.0.1:18900/readyz "${RESTRICTED[@]}" "${CELLS[@]}" \
  -e REWARDGATE_SANDBOX_SERVICE_PORT=18900 -e REWARDGATE_SANDBOX_SERVICE_WORKERS=2 \
  --entrypoint rewardgate "$TAG" sandbox-serve
gateway rg-gateway-pool 18100 -e REWARDGATE_SANDBOX_URL=http://127.0.0.1:18900
remove rg-gateway-pool rg-sandbox-pool
echo "== embedded: the gateway runs its own cells with the same privileges"
gateway rg-gateway-embedded 18200 "${CELLS[@]}"
remove rg-gateway-embedded
echo "== the runtime's default seccomp profile: no cells, code items are sandbox_error"
gateway rg-gateway-default 18300
remove rg-gateway-default
