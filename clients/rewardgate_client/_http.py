"""HTTP transport: JSON over aiohttp (one keep-alive connection pool per client).

aiohttp rather than httpx: per request it costs about half as much on the
client side, which is what a single-item caller (one sample per request)
waits for (bench/client_http.py, docs/benchmarks.md). The session is created
on first use, inside the event loop that uses it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import orjson
from yarl import URL

from rewardgate_client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    InvalidInput,
    RewardgateError,
    error_from,
)
from rewardgate_client.types import CompareResult, Result, ScoreReply


class HttpTransport:
    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 64):
        self._base_url = base_url.rstrip("/")
        self._urls: dict[str, URL] = {}  # path -> parsed once (aiohttp parses a str on every request)
        self._headers = {"content-type": "application/json", **(headers or {})}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def score(self, body: dict[str, Any], timeout_s: float) -> ScoreReply:
        return ScoreReply.from_dict(await self._post("/v1/score", body, timeout_s))

    async def compare(self, body: dict[str, Any], timeout_s: float) -> list[CompareResult]:
        data = await self._post("/v1/compare", body, timeout_s)
        return [
            CompareResult(
                id=r["id"],
                probability=r.get("probability"),
                status=r["status"],
                a=Result.from_dict(r["a"], data["pipeline_hash"]),
                b=Result.from_dict(r["b"], data["pipeline_hash"]),
            )
            for r in data["results"]
        ]

    async def pipelines(self, timeout_s: float) -> list[dict[str, Any]]:
        return (await self._request("GET", "/v1/pipelines", None, timeout_s))["pipelines"]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=self._max_connections),
            )
        return self._session

    async def _post(self, path: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        return await self._request("POST", path, encode_body(body), timeout_s)

    async def _request(
        self, method: str, path: str, content: bytes | None, timeout_s: float
    ) -> dict[str, Any]:
        try:
            async with self._client().request(
                method, self._url(path), data=content, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                return decode_reply(
                    response.status, response.headers.get("retry-after"), await response.read()
                )
        except asyncio.TimeoutError as exc:  # noqa: UP041 - not the builtin before Python 3.11 (the client supports 3.10)
            raise DeadlineExceeded(f"no answer within {timeout_s:.3g} s") from exc
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base_url + path)
        return url


#: What orjson must hand back to ``json`` rather than write itself: dataclasses, dates and times,
#: and subclasses of str/int/dict/list (``json`` refuses the first two and reads the last as their
#: base type).
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def encode_body(body: dict[str, Any]) -> bytes:
    """A request body as compact UTF-8 JSON; :class:`InvalidInput` when it is not plain JSON
    (as the gRPC transport: the caller's input, never sent).

    ``json.dumps`` decides what is plain JSON; orjson writes the common body for a fifth of
    its cost (about 7k instructions against 34k, docs/benchmarks.md) and hands ``json``
    every body it does not write the same way: one it refuses (non-str keys, integers beyond
    64 bits, float subclasses, lone surrogates, the passthrough types above), and one with a
    ``null`` in it, since orjson writes NaN and infinities as ``null`` where ``json`` refuses
    them. The bytes then differ only in float exponents (``1e-7`` for ``1e-07``: the same
    number). One difference remains: orjson writes a :class:`uuid.UUID` as its string and a
    plain :class:`enum.Enum` member as its value, where ``json`` refused both."""
    try:
        raw = orjson.dumps(body, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: json's verdict (it may accept, or say why not)
        return _encode_with_json(body)
    # find, not ``in``: ``b"null" in raw`` first tries b"null" as an integer (a byte value) and
    # formats the TypeError it then drops, a quarter of what orjson's encoding costs.
    return raw if raw.find(b"null") == -1 else _encode_with_json(body)


def single_score_head(pipeline: str, items: list[Any], options: dict[str, Any]) -> bytes | None:
    """The body of a one-item score request up to its deadline's value, when the item is a
    plain dict and ``options`` set no ``deadline_ms``: ``head + b"%d}}" % left_ms`` is then
    byte for byte what :func:`encode_body` writes for the general body (``item_dicts`` and
    ``score_body`` with ``left_ms`` left), without building that body per call.

    None where the general body must be built: any other item or options, and wherever
    :func:`encode_body` would hand the body to ``json`` (orjson refuses a part, or a part
    holds ``null``)."""
    if len(items) != 1 or type(item := items[0]) is not dict or "deadline_ms" in options:
        return None
    if "id" not in item:  # item_dicts gives the item its position as its last key
        item = {**item, "id": "0"}
    body = {"pipeline": pipeline, "items": [item], "options": options}  # score_body's, less the deadline
    try:  # one orjson call: its per-call cost is most of a small body's
        raw = orjson.dumps(body, option=_ORJSON_OPTIONS)
    except TypeError:
        return None
    # partition, not find: bytes.find parses its arguments by format string (~0.4k more)
    if raw.partition(b"null")[1]:
        return None
    # the options close the body (b"}}"); the deadline is their last key, as in score_body
    return raw[:-2] + (b',"deadline_ms":' if options else b'"deadline_ms":')


def _encode_with_json(body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the request is not plain JSON: {exc}") from None


def decode_reply(status: int, retry_after_header: str | None, raw: bytes) -> dict[str, Any]:
    """The JSON body of a 200 reply; any other status raises its typed error (the server's
    envelope, or a plain :class:`RewardgateError` for a body that is not one)."""
    if status == 200:
        # orjson: the client's work per single-item call fell from 157k to 134k instructions
        # (bench/instructions.py --client, docs/benchmarks.md);
        # the server sends UTF-8 JSON without NaN, the only inputs where the two differ.
        return orjson.loads(raw)
    retry_after = _seconds(retry_after_header)
    try:
        error = orjson.loads(raw)["error"]
    except (ValueError, KeyError, TypeError):
        raise RewardgateError(
            f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}",
            retryable=status in (429, 502, 503, 504),
            retry_after_s=retry_after,
        ) from None
    raise error_from(
        error.get("type", "internal"), error.get("message", ""), error.get("retryable"), retry_after
    )


def _seconds(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None
