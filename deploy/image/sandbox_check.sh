#!/usr/bin/env bash
# Show the code sandbox working in the image with exactly the privileges the Helm
# chart's sandbox switch grants, and failing safely without them.
#
#   deploy/image/sandbox_check.sh [TAG]      (as root, after deploy/image/build.sh)
set -euo pipefail
TAG=${1:-localhost/rewardgate:dev}
STORAGE=(--storage-driver=vfs)
CAPS=SYS_ADMIN,SETUID,SETGID,CHOWN,KILL
CODE='{"pipeline": "code", "items": [
  {"id": "correct", "response": "def add(a, b):\n    return a + b\n", "reference": "assert add(1, 2) == 3\n"},
  {"id": "network", "response": "import socket\ntry:\n    socket.create_connection((\"1.1.1.1\", 53), timeout=1)\n    reached = True\nexcept OSError:\n    reached = False\n", "reference": "assert not reached\n"},
  {"id": "forged", "response": "import os\nos._exit(0)\n", "reference": "assert add(1, 2) == 3\n"}]}'

run() {  # $1: name, $2: port, rest: extra podman flags
  local name=$1 port=$2; shift 2
  podman "${STORAGE[@]}" run -d --name "$name" --runtime runc --cgroup-manager=cgroupfs --network=host \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --read-only --tmpfs /tmp:rw,size=1g \
    -e REWARDGATE_PORT="$port" -e REWARDGATE_GRPC_PORT=$((port + 1000)) -e REWARDGATE_VERIFIER_WORKERS=2 \
    "$@" "$TAG" >/dev/null
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.5; done
  curl -s "http://127.0.0.1:$port/v1/score" -H 'content-type: application/json' -d "$CODE"
  echo
  podman "${STORAGE[@]}" rm -f "$name" >/dev/null
}

echo "== root with exactly: $CAPS (all others dropped), read-only root, /tmp tmpfs"
run rg-sandbox-on 18100 --user 0 --cap-drop ALL --cap-add "$CAPS" --security-opt no-new-privileges=false
echo "== the same without SYS_ADMIN (what a restricted pod has less of)"
run rg-sandbox-nosysadmin 18200 --user 0 --cap-drop ALL --cap-add "${CAPS#SYS_ADMIN,}"
echo "== the default: uid 10001, no capabilities"
run rg-sandbox-off 18300 --cap-drop ALL
