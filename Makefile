# Two entry points: `make serve` and `make test`. Both create .venv on first use.
#
# The virtualenv is built from Debian's python3.11 when present: Triton's
# python-backend stub links the system libpython3.11 (see docs/architecture.md).
BASE_PYTHON ?= $(shell command -v /usr/bin/python3.11 || command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench clean proto tools loadtest

$(STAMP): pyproject.toml clients/pyproject.toml
	@echo "rewardgate: setting up $(VENV) with $(BASE_PYTHON): installing the project and its dependencies"
	@echo "rewardgate: (torch, transformers, Triton's wheel, test tools; a few minutes the first time)"
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	# pip before 23.3 (Debian 12's is 23.0.1) compares extras unnormalised: it warns that
	# dependencies "do not provide" extras they do (math-verify's antlr4_13_2) and skips them.
	$(PY) -m pip install --disable-pip-version-check --progress-bar off --upgrade "pip>=23.3"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -e ./clients -e ".[dev]"
	touch $(STAMP)
	@echo "rewardgate: $(VENV) is ready"

# The service on the shipped pipelines; PORT= and GRPC_PORT= move it (REWARDGATE_* settings too).
serve: $(STAMP)
	$(VENV)/bin/rewardgate serve $(if $(PORT),--port $(PORT)) $(if $(GRPC_PORT),--grpc-port $(GRPC_PORT))

test: $(STAMP) tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/hadolint Dockerfile

# promtool (Debian's prometheus package) for the alert-rule tests; installed when
# missing and we may (root), otherwise those tests say how to get it.
tools:
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; } || true

# Regenerate clients/rewardgate_client/v1 from proto/rewardgate/v1/reward.proto.
proto: $(STAMP)
	$(PY) proto/generate.py

# A load test scenario for a bounded time against the embedded default (or HOST=http://...,
# with GRPC_HOST=HOST:PORT when its gRPC port is not 50051); reports go to loadtests/reports/
# (the folder is printed at the end). SCENARIO: User classes of loadtests/locustfile.py.
SCENARIO ?= OpenRLHFUser GrpoGroupUser GrpcUnaryUser GrpcStreamUser RescoreUser MixedPipelineUser
DURATION ?= 60s
loadtest: $(STAMP)
	$(PY) loadtests/run.py --scenario $(SCENARIO) --duration $(DURATION) $(if $(HOST),--host $(HOST)) \
		$(if $(GRPC_HOST),--grpc-host $(GRPC_HOST))

bench: $(STAMP)
	$(PY) bench/batching.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
