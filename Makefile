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
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./clients -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/rewardgate serve

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

# A load test scenario for a bounded time against the embedded default (or HOST=http://...);
# reports go to loadtests/reports/. SCENARIO: User classes of loadtests/locustfile.py.
SCENARIO ?= OpenRLHFUser GrpoGroupUser GrpcUnaryUser GrpcStreamUser RescoreUser MixedPipelineUser
DURATION ?= 60s
loadtest: $(STAMP)
	$(PY) loadtests/run.py --scenario $(SCENARIO) --duration $(DURATION) $(if $(HOST),--host $(HOST))

bench: $(STAMP)
	$(PY) bench/batching.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
