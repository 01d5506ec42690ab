"""Image URLs: fetched only from allowed hosts, bounded, never followed elsewhere (a real local server)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rewardgate.media.decode import ImageLimits
from rewardgate.media.parts import ImagePartError, ImagePolicy, canonical_messages
from tests.support.images import data_url, png

PNG = png(20, 10)


class Images(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/cat.png":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        elif self.path == "/big.png":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"\x89PNG" + b"\0" * 5000)
        elif self.path == "/moved.png":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def canonical(url, hosts=frozenset({"127.0.0.1"}), max_bytes=10_000):
    policy = ImagePolicy(ImageLimits(max_bytes=max_bytes), url_hosts=hosts, fetch_timeout_s=5)
    part = {"type": "image_url", "image_url": {"url": url}}
    return canonical_messages([{"role": "user", "content": [part]}], policy)[0]["content"][0]


def test_an_allowed_url_becomes_its_content(server):
    assert canonical(f"{server}/cat.png") == {"type": "image", "image": data_url(PNG)}


@pytest.mark.parametrize(
    ("path", "hosts", "words", "too_large"),
    [
        ("/cat.png", frozenset(), "not fetched from host '127.0.0.1'", False),
        ("/cat.png", frozenset({"localhost"}), "not fetched from host", False),
        ("/missing.png", frozenset({"127.0.0.1"}), "HTTP 404", False),
        ("/moved.png", frozenset({"127.0.0.1"}), "HTTP 302", False),  # never followed out of the list
        ("/big.png", frozenset({"127.0.0.1"}), "over the limit of 1000 bytes", True),
    ],
    ids=["no-hosts", "other-host", "404", "redirect", "too-big"],
)
def test_refused_urls(server, path, hosts, words, too_large):
    with pytest.raises(ImagePartError, match=words) as caught:
        canonical(f"{server}{path}", hosts, max_bytes=1000)
    assert caught.value.too_large is too_large


def test_an_unreachable_allowed_host_is_a_clear_error():
    with pytest.raises(ImagePartError, match="could not be fetched"):
        canonical("http://127.0.0.1:9/cat.png")
