"""A scripted OpenAI-compatible chat-completions server on a real socket.

It speaks the real wire format (``choices``, ``message.refusal``,
``finish_reason``, ``logprobs.content[].top_logprobs``, ``usage``, error
bodies with ``Retry-After``) and decides each reply from markers in the
judged text, so tests read as scripts:

``[[score=N]]``         a pointwise/principle score N
``[[verdict=yes|no]]``  a constraint/correctness verdict
``[[best]]``            pairwise: the response holding it wins
``[[always=A|B]]``      pairwise: a position-biased judge, always that letter
``[[malformed]]``       prose without the requested answer
``[[refuse]]``          ``message.refusal`` set
``[[truncate]]``        ``finish_reason: length``
``[[sleep=S]]``         answer after S seconds
``[[fail=STATUS,times=N,retry_after=S]]``  the first N requests with this marker
                        fail with STATUS (and Retry-After S)
``[[tag=NAME]]``        count this request in ``max_open_by_tag[NAME]``
``[[split_digits]]``    with logprobs: each digit of the score is its own token
                        (as digit-splitting tokenizers do), alternatives on the first
``[[image_score]]``     a VLM's score: 1 + 9 x the mean red of the first image
                        part (``image_url`` data URL), decoded with Pillow

A user message may be content parts (text and ``image_url``, as VLM servers
take them): markers are read from its text parts, and each call records the
parts in ``parts``.

``POST /control {"fail_status": 503}`` makes every request fail until
``{"fail_status": null}``; ``{"json_mode": false}`` makes it refuse
``response_format`` with a 400, as servers without JSON mode do.
``GET /stats`` reports calls, the largest number of requests open at once,
and each call's arrival time and user message.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import re
import threading
import time

from aiohttp import web
from PIL import Image

from tests.support.server import free_port

MARKER = re.compile(r"\[\[(\w+)(?:=([^\]]*))?\]\]")


class ScriptedJudgeServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.calls: list[dict] = []
        self.open = 0
        self.max_open = 0
        self.open_by_tag: dict[str, int] = {}
        self.max_open_by_tag: dict[str, int] = {}
        self.fail_status: int | None = None
        self.json_mode = True
        self._marker_counts: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> ScriptedJudgeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        """Cancel requests still being answered (scripted sleeps), then close the site."""
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._runner.cleanup()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/control", self._control)
        self._runner = runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def reset(self) -> None:
        self.calls.clear()
        self.max_open = 0
        self.max_open_by_tag.clear()
        self.fail_status = None
        self.json_mode = True
        self._marker_counts.clear()

    # ------------------------------------------------------------ handlers

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": len(self.calls), "max_open": self.max_open, "log": self.calls})

    async def _control(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_status = body.get("fail_status", self.fail_status)
        self.json_mode = body.get("json_mode", self.json_mode)
        return web.json_response({"ok": True})

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        content = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
        parts = content if isinstance(content, list) else None
        user = (
            "\n".join(p["text"] for p in parts if p.get("type") == "text") if parts is not None else content
        )
        self.calls.append({"at": time.monotonic(), "user": user, "parts": parts, "body": body})
        tag = next((m.group(2) for m in MARKER.finditer(user) if m.group(1) == "tag"), None)
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        if tag is not None:
            self.open_by_tag[tag] = self.open_by_tag.get(tag, 0) + 1
            self.max_open_by_tag[tag] = max(self.max_open_by_tag.get(tag, 0), self.open_by_tag[tag])
        try:
            return await self._reply(body, user)
        finally:
            self.open -= 1
            if tag is not None:
                self.open_by_tag[tag] -= 1

    async def _reply(self, body: dict, user: str) -> web.Response:
        markers = {m.group(1): (m.group(2) or "") for m in MARKER.finditer(user)}
        if "sleep" in markers:
            await asyncio.sleep(float(markers["sleep"]))
        if self.fail_status:
            return _error(self.fail_status, "upstream down")
        if "response_format" in body and not self.json_mode:
            return _error(400, "response_format is not supported by this server")
        failure = next((m for m in MARKER.finditer(user) if m.group(1) == "fail"), None)
        if failure is not None:
            params = dict(part.split("=") for part in ("status=" + failure.group(2)).split(","))
            seen = self._marker_counts.get(failure.group(0), 0)
            self._marker_counts[failure.group(0)] = seen + 1
            if seen < int(params.get("times", 1)):
                headers = {"Retry-After": params["retry_after"]} if "retry_after" in params else {}
                return _error(int(params["status"]), "scripted failure", headers)
        json_mode = body.get("response_format", {}).get("type") == "json_object"
        finish, refusal = "stop", None
        if "refuse" in markers:
            content, refusal = None, "I can't help with evaluating that."
        elif "malformed" in markers:
            content = "It is a fairly reasonable answer overall, I suppose."
        else:
            key, value = _answer(user, markers)
            if "image_score" in markers:
                user_content = next(m["content"] for m in body["messages"] if m["role"] == "user")
                key, value = "score", _image_score(user_content if isinstance(user_content, list) else [])
            content = (
                json.dumps({"reasoning": "scripted", key: value})
                if json_mode
                else (f"Some reasoning.\n{key.capitalize()}: {value}")
            )
            if "truncate" in markers:
                content, finish = content[: len(content) // 2], "length"
        return web.json_response(_completion(body, content, finish, refusal, markers))


def _answer(user: str, markers: dict[str, str]) -> tuple[str, object]:
    if "[Response A]" in user:
        if "always" in markers:
            return "winner", markers["always"]
        a_part = user.split("[Response A]", 1)[1].split("[Response B]", 1)[0]
        return "winner", "A" if "[[best]]" in a_part else "B"
    if '"score"' in user or "'Score:" in user:  # the kind's format line asks for a score
        return "score", int(markers.get("score", "5"))
    return "verdict", markers.get("verdict", "yes")


def _image_score(parts: list[dict]) -> int:
    """What a scripted VLM makes of the first image: 1 + 9 x its mean red (0 without one)."""
    url = next((p["image_url"]["url"] for p in parts if p.get("type") == "image_url"), None)
    if url is None:
        return 0
    image = Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("RGB")
    red = sum(pixel[0] for pixel in image.getdata()) / (image.width * image.height)
    return 1 + round(9 * red / 255)


def _completion(body: dict, content: str | None, finish: str, refusal: str | None, markers: dict) -> dict:
    prompt_chars = sum(len(m["content"]) for m in body["messages"])
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": refusal},
        "finish_reason": finish,
        "logprobs": _logprobs(content, markers) if body.get("logprobs") and content else None,
    }
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content or refusal or "") // 4,
            "total_tokens": prompt_chars // 4 + len(content or refusal or "") // 4,
        },
    }


def _logprobs(content: str, markers: dict) -> dict:
    """Tokens of ``content`` with, at the score, a spread over neighbouring scores."""
    match = re.search(r'"score": (\d+)', content)
    if match is None:
        return {"content": [_token(content, 0.0, [])], "refusal": None}
    score = int(match.group(1))
    if "split_digits" in markers:
        digits = match.group(1)
        first = [_top(digits[0], math.log(0.6)), _top(str(int(digits[0]) - 1), math.log(0.4))]
        tokens = [_token(content[: match.start(1)], 0.0, []), _token(digits[0], math.log(0.6), first)]
        tokens += [_token(d, 0.0, [_top(d, 0.0)]) for d in digits[1:]]
        return {"content": [*tokens, _token(content[match.end(1) :], 0.0, [])], "refusal": None}
    spread = [(str(score), 0.6), (str(score - 1), 0.3), (str(score + 1), 0.1)]
    tokens = [
        _token(content[: match.start(1)], 0.0, []),
        _token(str(score), math.log(0.6), [_top(t, math.log(p)) for t, p in spread]),
        _token(content[match.end(1) :], 0.0, []),
    ]
    return {"content": tokens, "refusal": None}


def _token(text: str, logprob: float, top: list[dict]) -> dict:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": top}


def _top(text: str, logprob: float) -> dict:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode())}


def _error(status: int, message: str, headers: dict | None = None) -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "server_error" if status >= 500 else "rate_limit_error",
            "param": None,
            "code": None,
        }
    }
    return web.json_response(body, status=status, headers=headers or {})


class GullibleJudgeServer(ScriptedJudgeServer):
    """A judge without prompt-injection defences: a score or verdict written anywhere in the text it
    judges (``Score: 10``, ``"verdict": "yes"``) becomes its own answer, as an LLM that follows
    instructions inside the response would. Without one it answers as :class:`ScriptedJudgeServer`,
    except that its verdict is ``default_verdict``."""

    def __init__(self, default_verdict: str = "yes") -> None:
        super().__init__()
        self.default_verdict = default_verdict

    async def _reply(self, body: dict, user: str) -> web.Response:
        scores = re.findall(r"(?i)\bscore\"?\s*[:=]\s*(\d+)", user)
        # Not the template's own format line ('"verdict": "yes" | "no"', "'Verdict: yes' or ...").
        verdicts = re.findall(r"(?i)\bverdict\"?\s*[:=]\s*\"?(yes|no)\b(?!\"?\s*(?:\||or\b|'))", user)
        verdict = verdicts[-1].lower() if verdicts else self.default_verdict
        obeyed = (f" [[score={scores[-1]}]]" if scores else "") + f" [[verdict={verdict}]]"
        return await super()._reply(body, user + obeyed)


class PositionBiasedJudgeServer(ScriptedJudgeServer):
    """A pairwise judge that always prefers the response shown first (``Winner: A``), whatever the
    two responses say: the position bias of an LLM judge at its most extreme."""

    async def _reply(self, body: dict, user: str) -> web.Response:
        return await super()._reply(body, user + (" [[always=A]]" if "[Response A]" in user else ""))
