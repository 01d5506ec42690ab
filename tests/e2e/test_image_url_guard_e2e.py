"""The image-URL guard in a running service, both transports: an allowed host name that resolves
to a loopback address is a 422 naming the item and part, unless the operator allows private
addresses (REWARDGATE_IMAGE_URL_ALLOW_PRIVATE); a real local HTTP server serves the image."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rewardgate_client import InvalidInput, RewardClient

from tests.e2e.conftest import write_config
from tests.support.images import png
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

PNG = png(20, 10)


class Images(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def image_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def start(root, allow_private):
    config = {
        "rules": {"said": {"type": "regex", "pattern": "square"}},
        "pipelines": {"said": {"components": {"said": {"rule": "said"}}}},
    }
    env = {
        "REWARDGATE_IMAGE_URL_HOSTS": "localhost,127.0.0.1",
        "REWARDGATE_IMAGE_URL_ALLOW_PRIVATE": "true" if allow_private else "false",
    }
    config_path = write_config(root / "pipelines.yaml", config)
    return ServiceProcess(config_path, env=env, log_path=root / "log").wait()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    process = start(tmp_path_factory.mktemp("guarded"), allow_private=False)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def private_allowed(tmp_path_factory):
    process = start(tmp_path_factory.mktemp("private_allowed"), allow_private=True)
    yield process
    process.stop()


def items(url):
    part = {"type": "image_url", "image_url": {"url": url}}
    image = [{"role": "user", "content": [{"type": "text", "text": "Describe it."}, part]}]
    return [{"prompt": "Describe it.", "response": "a square"}, {"prompt": image, "response": "a square"}]


def transports(service):
    return service.url, f"grpc://{service.grpc_target}"


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_host_resolving_to_loopback_is_refused(guarded, image_server, transport, host):
    with RewardClient(transports(guarded)[transport]) as client, pytest.raises(InvalidInput) as caught:
        client.score(items(f"http://{host}:{image_server}/cat.png"), "said")
    message = str(caught.value)
    assert "items[1].prompt[0].content[1]" in message and "a loopback address" in message


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_the_operator_may_allow_private_addresses(private_allowed, image_server, transport):
    with RewardClient(transports(private_allowed)[transport]) as client:
        results = client.score(items(f"http://localhost:{image_server}/cat.png"), "said")
    assert [result.reward for result in results] == [1.0, 1.0]
