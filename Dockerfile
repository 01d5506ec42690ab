# rewardgate gateway image: non-root, listens on 0.0.0.0, ships the default pipelines.
#
#   docker build -t rewardgate .                                   # with registry access
#   deploy/image/build.sh                                          # daemonless, offline base (docs/deploy.md)
#
# Mount your own pipeline file and point REWARDGATE_CONFIG_PATH at it:
#   -v ./pipelines.yaml:/etc/rewardgate/pipelines.yaml:ro -e REWARDGATE_CONFIG_PATH=/etc/rewardgate/pipelines.yaml

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU build of torch (the default index would bring the multi-GB CUDA build).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Optional pip settings for builds behind a proxy or offline (deploy/image/build.sh):
# a directory of wheels, and a CA bundle to trust.
ARG PIP_FIND_LINKS
ARG PIP_CERT
RUN python3 -m venv /opt/rewardgate
COPY clients/ /src/clients/
COPY pyproject.toml README.md /src/
COPY rewardgate/ /src/rewardgate/
RUN /opt/rewardgate/bin/pip install --extra-index-url "${TORCH_INDEX_URL}" "torch==2.13.0" \
 && /opt/rewardgate/bin/pip install /src/clients /src \
 && find /opt/rewardgate -name "__pycache__" -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
RUN groupadd --gid 10001 rewardgate \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin rewardgate
COPY --from=build /opt/rewardgate /opt/rewardgate
ENV PATH=/opt/rewardgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    REWARDGATE_HOST=0.0.0.0 \
    REWARDGATE_PORT=8000 \
    REWARDGATE_GRPC_PORT=50051
# 8100: the same image as the code sandbox pool, `rewardgate sandbox-serve` (docs/deploy.md).
EXPOSE 8000 50051 8100
USER 10001:10001
# Exec form: SIGTERM reaches the server itself, which drains both transports and exits 0.
ENTRYPOINT ["rewardgate", "serve"]
