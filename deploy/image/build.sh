#!/usr/bin/env bash
# Build and smoke-run the rewardgate image without a Docker daemon or registry access.
#
#   deploy/image/build.sh [TAG]        (as root; docs/deploy.md records the figures)
#
# 1. a Debian bookworm base made with debootstrap (python3 + venv) and imported;
# 2. `buildah bud` of the Dockerfile on it, torch from a local wheel directory
#    when TORCH_WHEELS is set (this machine: /opt/wheels), else the PyTorch CPU index;
#    PIP_CA_BUNDLE (a CA file) is trusted by pip during the build when set;
# 3. `podman run` of the image; prints build time, image size and time to /readyz.
# Needs: apt-get install buildah podman runc debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/rewardgate:dev}
BASE=localhost/rewardgate-base:bookworm
STORAGE=(--storage-driver=vfs)
TORCH_WHEELS=${TORCH_WHEELS:-}
PIP_CA_BUNDLE=${PIP_CA_BUNDLE:-}

if ! podman "${STORAGE[@]}" image exists "$BASE"; then
  root=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
    bookworm "$root" http://deb.debian.org/debian
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  chmod 755 "$root"  # mktemp made it 0700: the image's / would be closed to non-root users
  tar -C "$root" -c . | podman "${STORAGE[@]}" import - "$BASE"
  rm -rf "$root"
fi

build_args=(--build-arg "BASE_IMAGE=$BASE")
volumes=()
if [ -n "$TORCH_WHEELS" ]; then
  volumes+=(--volume "$TORCH_WHEELS:/wheels:ro")
  build_args+=(--build-arg "PIP_FIND_LINKS=/wheels" --build-arg "TORCH_INDEX_URL=https://pypi.org/simple")
fi
if [ -n "$PIP_CA_BUNDLE" ]; then
  volumes+=(--volume "$PIP_CA_BUNDLE:/run/pip-ca.crt:ro")
  build_args+=(--build-arg "PIP_CERT=/run/pip-ca.crt")
fi
started=$(date +%s)
buildah "${STORAGE[@]}" bud --isolation=chroot --network=host --layers=false \
  "${build_args[@]}" "${volumes[@]}" -t "$TAG" .
echo "build_s=$(( $(date +%s) - started ))"
podman "${STORAGE[@]}" image inspect "$TAG" --format 'size_bytes={{.Size}}'

port=18000
name=rewardgate-smoke-$$
started=$(date +%s.%N)
podman "${STORAGE[@]}" run -d --name "$name" --runtime runc --cgroup-manager=cgroupfs \
  --network=host --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  -e REWARDGATE_PORT=$port -e REWARDGATE_GRPC_PORT=15051 "$TAG" >/dev/null
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
echo "ready_s=$(echo "$(date +%s.%N) - $started" | bc)"
curl -s "http://127.0.0.1:$port/v1/score" -H 'content-type: application/json' \
  -d '{"pipeline": "math", "items": [{"response": "\\boxed{2}", "reference": "2"}]}'
echo
started=$(date +%s.%N)
podman "${STORAGE[@]}" stop --time 90 "$name" >/dev/null   # SIGTERM, SIGKILL only after 90 s
echo "sigterm_to_exit_s=$(echo "$(date +%s.%N) - $started" | bc)"
echo "exit_code=$(podman "${STORAGE[@]}" inspect "$name" --format '{{.State.ExitCode}}')"
podman "${STORAGE[@]}" rm "$name" >/dev/null
