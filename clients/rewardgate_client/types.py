"""Plain result types shared by both transports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Item:
    """One item to score. ``prompt`` is text or chat messages ``[{"role", "content", ...}]``
    (content as text or typed parts; ``tool_calls``, ``name``, ``tool_call_id`` for tool turns)."""

    response: str
    prompt: str | list[dict[str, Any]] = ""
    reference: str | None = None
    #: A group id, or ``{"id": ..., "size": n}``: with the size, the service scores the group
    #: once all n samples are in, whichever requests carry them (docs/groups.md).
    group: str | dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"response": self.response, "prompt": self.prompt, "metadata": self.metadata}
        for key in ("reference", "group", "id"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class ItemError:
    type: str
    message: str
    retryable: bool


@dataclass
class Result:
    """One item's answer. ``reward`` is None whenever ``status`` is ``"error"``."""

    id: str
    reward: float | None
    status: str
    components: dict[str, float] = field(default_factory=dict)
    errors: dict[str, ItemError] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    steps: dict[str, dict[str, list[float]]] | None = None
    explanation: dict[str, Any] | None = None
    pipeline_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "error"

    @classmethod
    def from_dict(cls, data: dict[str, Any], pipeline_hash: str = "") -> Result:
        return cls(
            id=data["id"],
            reward=data.get("reward"),
            status=data["status"],
            components=dict(data.get("components") or {}),
            errors={name: ItemError(**error) for name, error in (data.get("errors") or {}).items()},
            cached=list(data.get("cached") or []),
            steps=data.get("steps"),
            explanation=data.get("explanation"),
            pipeline_hash=pipeline_hash,
        )


@dataclass
class CompareResult:
    id: str
    probability: float | None
    status: str
    a: Result
    b: Result


def as_item_dict(item: Item | dict[str, Any]) -> dict[str, Any]:
    """An item as the wire dict (typed items or plain dicts accepted)."""
    return item.to_dict() if isinstance(item, Item) else dict(item)


#: The fields of a result as the service writes them (all but ``pipeline_hash``, the reply's).
_WIRE_FIELDS = frozenset(Result.__dataclass_fields__) - {"pipeline_hash"}


def results_from_reply(data: dict[str, Any]) -> list[Result]:
    """The results of a score reply the caller has just decoded and hands over: as
    :meth:`ScoreReply.from_dict`'s, but each result keeps the reply's own containers instead
    of copies (nothing else holds them), which is what a one-sample call can save.

    A result in the service's full shape (every field, nothing else, no item errors, no
    ``null`` container) becomes the :class:`Result`'s attribute dict as it is, with the
    reply's ``pipeline_hash`` added: equal to what the dataclass ``__init__`` builds (the
    service writes the fields in its order, so ``vars()`` lists them alike), for less
    (docs/benchmarks.md). Any other shape takes the general construction."""
    pipeline_hash = data["pipeline_hash"]
    results = []
    for r in data["results"]:
        if (
            r.keys() == _WIRE_FIELDS
            and type(r["components"]) is dict
            and type(r["cached"]) is list
            and type(errors := r["errors"]) is dict
            and not errors
        ):
            r["pipeline_hash"] = pipeline_hash
            result = _new_object(Result)
            result.__dict__ = r
            results.append(result)
        else:
            results.append(_result_from_wire(r, pipeline_hash))
    return results


_new_object = object.__new__


def _result_from_wire(r: dict[str, Any], pipeline_hash: str) -> Result:
    return Result(
        r["id"],
        r.get("reward"),
        r["status"],
        r.get("components") or {},
        {name: ItemError(**error) for name, error in errors.items()} if (errors := r.get("errors")) else {},
        r.get("cached") or [],
        r.get("steps"),
        r.get("explanation"),
        pipeline_hash,
    )


@dataclass
class ScoreReply:
    """One call's answer (a chunk of a larger ``score``)."""

    pipeline: str
    pipeline_hash: str
    results: list[Result]
    usage: dict[str, int]
    versions: dict[str, str]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreReply:
        return cls(
            pipeline=data["pipeline"],
            pipeline_hash=data["pipeline_hash"],
            results=[Result.from_dict(r, data["pipeline_hash"]) for r in data["results"]],
            usage=dict(data.get("usage") or {}),
            versions=dict(data.get("versions") or {}),
        )
