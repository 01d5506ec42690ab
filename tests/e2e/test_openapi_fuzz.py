"""A schema fuzzer (schemathesis) against the running service: every status a route answers is
documented in its OpenAPI schema, with the documented body and content type, and none is a 5xx.

Checks chosen: the statuses and shapes the schema promises. Requests the schema allows but the
service refuses on purpose (integers past 64 bits, deep nesting: rewardgate/plain_json.py) are
422s, which every route documents.
"""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory):
    """A service whose pipelines need no model or verifier process (quick to start)."""
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "rules": {"exact": {"type": "exact_match"}, "fmt": {"type": "think_answer"}},
            "pipelines": {
                "exact": {"components": {"match": {"rule": "exact"}}},
                "format": {"components": {"fmt": {"rule": "fmt"}}},
            },
        },
    )
    process = ServiceProcess(
        config, env={"REWARDGATE_COMPAT_PIPELINE": "exact"}, log_path=workdir / "service.log"
    )
    try:
        yield process.wait()
    finally:
        process.stop()


def operations():
    """The schema's operations, read from the app built in-process (the running service serves the
    same schema at /openapi.json; collecting the tests needs no server)."""
    from rewardgate.api.http.app import create_app
    from rewardgate.config.settings import Settings

    loaded = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    return [result.ok() for result in loaded.get_all_operations()]


@pytest.mark.parametrize("operation", operations(), ids=lambda operation: operation.label)
def test_every_answer_is_documented_in_the_schema(fuzzed_service, operation):
    @given(operation.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(base_url=fuzzed_service.url, checks=CHECKS, timeout=30)

    answers_as_documented()
