# Two entry points: `make serve` and `make test`. Both create .venv on first use.
#
# The virtualenv is built from Debian's python3.11 when present: Triton's
# python-backend stub links the system libpython3.11 (see docs/architecture.md).
BASE_PYTHON ?= $(shell command -v /usr/bin/python3.11 || command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench clean proto

$(STAMP): pyproject.toml clients/pyproject.toml
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./clients -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/rewardgate serve

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Regenerate clients/rewardgate_client/v1 from proto/rewardgate/v1/reward.proto.
proto: $(STAMP)
	$(PY) proto/generate.py

bench: $(STAMP)
	$(PY) bench/batching.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
