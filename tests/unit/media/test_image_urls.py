"""Image URLs: fetched only from allowed hosts at public addresses, resolved once, never redirected
(a real local HTTP server; name resolution through a resolver the test scripts)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rewardgate.api.status import status_of
from rewardgate.core.calls import CallItem, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput
from rewardgate.items import ScoringItem
from rewardgate.media.decode import ImageLimits
from rewardgate.media.fetch import UrlPolicy, system_resolve
from rewardgate.media.parts import ImagePartError, ImagePolicy, canonical_messages
from tests.support.images import data_url, png

PNG = png(20, 10)


class Images(BaseHTTPRequestHandler):
    hosts_seen: list[str] = []

    def do_GET(self):
        Images.hosts_seen.append(self.headers.get("Host", ""))
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
def port():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


class ScriptedResolver:
    """Answers each lookup of a name with the next of ``answers`` (the last one repeats): a DNS
    server that rebinds its name after the first answer."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def policy(hosts, allow_private=False, resolve=system_resolve, max_bytes=10_000):
    urls = UrlPolicy(frozenset(hosts), allow_private=allow_private, timeout_s=5, resolve=resolve)
    return ImagePolicy(ImageLimits(max_bytes=max_bytes), urls=urls)


def canonical(url, image_policy):
    part = {"type": "image_url", "image_url": {"url": url}}
    return canonical_messages([{"role": "user", "content": [part]}], image_policy)[0]["content"][0]


def test_an_allowed_url_becomes_its_content(port):
    fetched = canonical(f"http://127.0.0.1:{port}/cat.png", policy({"127.0.0.1"}, allow_private=True))
    assert fetched == {"type": "image", "image": data_url(PNG)}


@pytest.mark.parametrize(
    ("path", "hosts", "words", "too_large"),
    [
        ("/cat.png", set(), "not fetched from host '127.0.0.1'", False),
        ("/cat.png", {"localhost"}, "not fetched from host", False),
        ("/missing.png", {"127.0.0.1"}, "HTTP 404", False),
        ("/moved.png", {"127.0.0.1"}, "HTTP 302: redirects are not followed", False),
        ("/big.png", {"127.0.0.1"}, "over the limit of 1000 bytes", True),
    ],
    ids=["no-hosts", "other-host", "404", "redirect", "too-big"],
)
def test_refused_urls(port, path, hosts, words, too_large):
    with pytest.raises(ImagePartError, match=words) as caught:
        canonical(f"http://127.0.0.1:{port}{path}", policy(hosts, allow_private=True, max_bytes=1000))
    assert caught.value.too_large is too_large


def test_a_redirect_is_not_followed_even_to_an_allowed_public_looking_place(port):
    resolver = ScriptedResolver(["127.0.0.1"])
    with pytest.raises(ImagePartError, match="redirects are not followed"):
        canonical(f"http://images.example:{port}/moved.png", policy({"images.example"}, True, resolver))
    assert len(resolver.lookups) == 1  # the Location was never looked up, let alone fetched


def test_an_unreachable_allowed_host_is_a_clear_error():
    with pytest.raises(ImagePartError, match="could not be fetched"):
        canonical("http://127.0.0.1:9/cat.png", policy({"127.0.0.1"}, allow_private=True))


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (["127.0.0.1"], "127.0.0.1, a loopback address"),
        (["10.0.0.7"], "10.0.0.7, a private address"),
        (["192.168.1.20"], "a private address"),
        (["169.254.169.254"], "169.254.169.254, a link-local address"),  # cloud metadata
        (["224.0.0.1"], "a multicast address"),
        (["240.0.0.1"], "a reserved address"),
        (["0.0.0.0"], "0.0.0.0, a"),
        (["100.64.0.1"], "not globally routable"),  # carrier-grade NAT, shared address space
        (["::1"], "a loopback address"),
        (["fe80::1"], "a link-local address"),
        (["fc00::1"], "a private address"),
        (["::ffff:127.0.0.1"], "a loopback address"),  # IPv4-mapped IPv6
        (["93.184.216.34", "127.0.0.1"], "127.0.0.1, a loopback address"),  # one bad answer among good
    ],
)
def test_a_name_resolving_inside_the_network_is_refused(answers, words):
    resolver = ScriptedResolver(answers)
    with pytest.raises(ImagePartError, match=words) as caught:
        canonical("http://images.example/cat.png", policy({"images.example"}, resolve=resolver))
    assert "REWARDGATE_IMAGE_URL_ALLOW_PRIVATE" in str(caught.value)
    assert resolver.lookups == [("images.example", 80)]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_system_resolver_is_checked_too(port, host):
    with pytest.raises(ImagePartError, match="a loopback address"):
        canonical(f"http://{host}:{port}/cat.png", policy({host}))


def test_the_name_is_resolved_once_and_the_connection_goes_to_that_address(port):
    """A rebinding name: the first answer is the local server, every later one elsewhere.
    ``images.example`` has no DNS at all: the fetch succeeds only by connecting to the address
    the one lookup gave, with the name kept in the Host header."""
    resolver = ScriptedResolver(["127.0.0.1"], ["10.255.255.1"])
    Images.hosts_seen.clear()
    allowed = policy({"images.example"}, allow_private=True, resolve=resolver)
    fetched = canonical(f"http://images.example:{port}/cat.png", allowed)
    assert fetched == {"type": "image", "image": data_url(PNG)}
    assert resolver.lookups == [("images.example", port)]
    assert Images.hosts_seen == [f"images.example:{port}"]


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(port):
    """A name whose first answer does not listen (an unreachable IPv6 answer, say): the second
    answer of the same single lookup serves the image."""
    resolver = ScriptedResolver(["127.0.0.3", "127.0.0.1"], ["10.255.255.1"])
    allowed = policy({"images.example"}, allow_private=True, resolve=resolver)
    fetched = canonical(f"http://images.example:{port}/cat.png", allowed)
    assert fetched == {"type": "image", "image": data_url(PNG)}
    assert resolver.lookups == [("images.example", port)]


def test_urls_with_credentials_are_refused(port):
    with pytest.raises(ImagePartError, match="credentials"):
        canonical(f"http://user:secret@127.0.0.1:{port}/cat.png", policy({"127.0.0.1"}, allow_private=True))


def test_the_refusal_is_a_422_naming_the_item_and_part(port):
    resolver = ScriptedResolver(["169.254.169.254"])
    url_part = {"type": "image_url", "image_url": {"url": "http://images.example/latest/meta-data"}}
    items = [
        CallItem(None, ScoringItem("Describe it.", "ok")),
        CallItem(
            None,
            ScoringItem(
                [{"role": "user", "content": [{"type": "text", "text": "Describe it."}, url_part]}], "ok"
            ),
        ),
    ]
    limits = Limits(10, 10_000, 1000, 10_000, images=policy({"images.example"}, resolve=resolver))
    with pytest.raises(InvalidInput) as caught:
        validate_call(ScoreCall("p", items), limits)
    assert status_of(caught.value) == (422, "INVALID_ARGUMENT")
    assert caught.value.message.startswith("items[1].prompt[0].content[1]: ")
    assert "169.254.169.254, a link-local address" in caught.value.message


def test_https_keeps_the_name_for_sni_and_the_certificate_while_connecting_to_the_pinned_address(
    monkeypatch, tmp_path
):
    """A real TLS server on 127.0.0.1 with a certificate for ``images.example`` only: the fetch
    connects to the resolved address and still verifies the certificate against the name."""
    import functools
    import ssl

    import httpx
    import trustme

    ca = trustme.CA()
    certificate = ca.issue_cert("images.example")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    # The fetcher's client, trusting the test CA (it trusts the system's CAs otherwise).
    monkeypatch.setattr(httpx, "Client", functools.partial(httpx.Client, verify=client_context))
    port = httpd.server_address[1]
    try:
        resolver = ScriptedResolver(["127.0.0.1"])
        allowed = policy({"images.example", "127.0.0.1"}, allow_private=True, resolve=resolver)
        fetched = canonical(f"https://images.example:{port}/cat.png", allowed)
        assert fetched == {"type": "image", "image": data_url(PNG)}
        # The same server by its address: the certificate does not name it, so no fetch.
        with pytest.raises(ImagePartError, match="could not be fetched: ConnectError"):
            canonical(f"https://127.0.0.1:{port}/cat.png", allowed)
    finally:
        httpd.shutdown()
