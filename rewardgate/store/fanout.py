"""Per request: cache lookup, deduplication and computation for every source.

For each source of the pipeline:

1. identical items (same cache key) collapse to one;
2. keys are claimed in the single-flight table: keys already being computed
   by a concurrent request are awaited instead of computed again;
3. one ``get_many`` (a single MGET on Redis) covers the owned keys of every
   source;
4. misses are computed by the source, fresh successes written back, and the
   owned keys released once the cache holds them.

With ``use_cache=False`` nothing is read, written or shared: every unique item
is computed afresh. A ``scope`` (the caller's tenant) enters every key, so two
tenants neither see each other's entries (``cached``, hits) nor share flights.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from rewardgate.errors import ComponentError
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import Outcome, ScoreSource, Spend
from rewardgate.store.cache import ScoreCache, cache_keys
from rewardgate.store.single_flight import Abandoned, SingleFlight

log = logging.getLogger(__name__)


@dataclass
class SourceOutcomes:
    """One outcome per request item, and whether it came from the cache."""

    outcomes: list[Outcome]
    cached: list[bool]


#: The key of a request's only item when the cache is off (keys then only deduplicate items).
_ONLY_ITEM = "only"


@dataclass
class FanoutResult(Spend):
    by_source: dict[str, SourceOutcomes] = field(default_factory=dict)


@dataclass
class _SourceWork:
    """One source's share of a request."""

    source: ScoreSource
    keys: list[str]  # per item
    representative: dict[str, ScoringItem]  # unique key -> first item with it
    owned: list[str]
    shared: dict[str, asyncio.Future]


class Fanout:
    def __init__(self, cache: ScoreCache, flight: SingleFlight, metrics: Metrics) -> None:
        self._cache = cache
        self._flight = flight
        self._metrics = metrics

    async def run(
        self,
        requests: list[tuple[ScoreSource, list[ScoringItem]]],
        deadline: float,
        use_cache: bool,
        scope: str | None = None,
    ) -> FanoutResult:
        """Outcomes of each (source, items) request, keyed by source name (one request per source);
        ``scope``: whose entries these are (None: shared by every caller)."""
        work = [self._plan(source, items, use_cache, scope) for source, items in requests]
        owned = [key for w in work for key in w.owned]
        result = FanoutResult()
        try:
            cached = await self._lookup(owned) if use_cache else {}
            if len(work) == 1:  # one source (the common case): no task to create
                done = [await self._run_source(work[0], cached, deadline, use_cache, result)]
            else:
                done = await asyncio.gather(
                    *(self._run_source(w, cached, deadline, use_cache, result) for w in work)
                )
        except BaseException:
            # Each source that finished released its keys; the rest are released here (a
            # cancelled or failed request), failing their waiters with Abandoned.
            if use_cache:
                self._flight.release(owned)  # no-op for keys already released
            raise
        for w, outcomes in zip(work, done, strict=True):
            result.by_source[w.source.name] = outcomes
        return result

    def _plan(
        self, source: ScoreSource, items: list[ScoringItem], use_cache: bool, scope: str | None
    ) -> _SourceWork:
        if not use_cache and len(items) == 1:
            keys = [_ONLY_ITEM]  # nothing to look up, share or deduplicate: no key to derive
        else:
            fingerprint, reads = source.fingerprint(), source.reads
            if scope is not None:
                fingerprint = f"{fingerprint}|tenant:{scope}"
            keys = cache_keys(fingerprint, reads, items)
        representative = dict(zip(keys, items, strict=True))
        if len(representative) < len(items):  # duplicates: each key's first item represents it
            representative = {}
            for key, item in zip(keys, items, strict=True):
                representative.setdefault(key, item)
        if use_cache:
            owned, shared = self._flight.claim(representative)
        else:
            owned, shared = list(representative), {}
        return _SourceWork(source, keys, representative, owned, shared)

    async def _run_source(
        self,
        work: _SourceWork,
        cached: dict[str, list[float]],
        deadline: float,
        use_cache: bool,
        result: FanoutResult,
    ) -> SourceOutcomes:
        values: dict[str, Outcome] = {key: cached[key] for key in work.owned if key in cached}
        # Hits are in the cache already: their keys are resolved and released at once.
        self._flight.settle(values)
        todo = [key for key in work.owned if key not in cached]
        values.update(await self._compute(work, todo, deadline, use_cache, result))
        if use_cache:
            self._flight.release(todo)
        values.update(await self._await_shared(work, deadline, use_cache, result))
        hits = list(map(cached.__contains__, work.keys))
        if use_cache:  # a request that opted out of the cache made no lookup: neither hit nor miss
            self._count_lookups(work.source.name, hits)
        return SourceOutcomes(list(map(values.__getitem__, work.keys)), hits)

    def _count_lookups(self, source: str, hits: list[bool]) -> None:
        hit_count = sum(hits)
        if hit_count:
            self._metrics.cache.labels(source, "hit").inc(hit_count)
        if hit_count < len(hits):
            self._metrics.cache.labels(source, "miss").inc(len(hits) - hit_count)

    async def _compute(
        self, work: _SourceWork, keys: list[str], deadline: float, use_cache: bool, result: FanoutResult
    ) -> dict[str, Outcome]:
        if not keys:
            return {}
        computed = await work.source.compute([work.representative[key] for key in keys], deadline)
        result.add(computed)
        values = dict(zip(keys, computed.outcomes, strict=True))
        fresh = {key: value for key, value in values.items() if not isinstance(value, ComponentError)}
        self._flight.resolve_many(values)
        if use_cache and fresh:
            await self._store(fresh, work.source.kind)
        return values

    async def _await_shared(
        self, work: _SourceWork, deadline: float, use_cache: bool, result: FanoutResult
    ) -> dict[str, Outcome]:
        if not work.shared:
            return {}
        # shield: our cancellation must not cancel another request's computation.
        answers = await asyncio.gather(
            *(asyncio.shield(flight) for flight in work.shared.values()), return_exceptions=True
        )
        values: dict[str, Outcome] = {}
        abandoned = []
        for key, answer in zip(work.shared, answers, strict=True):
            if isinstance(answer, Abandoned):
                abandoned.append(key)
            elif isinstance(answer, BaseException) and not isinstance(answer, ComponentError):
                raise answer  # request-level (overload, deadline): the waiter fails like the owner
            else:
                values[key] = answer  # a score, or the item's ComponentError, shared as-is
        values.update(await self._compute(work, abandoned, deadline, use_cache, result))
        return values

    async def _lookup(self, keys: list[str]) -> dict[str, list[float]]:
        if not keys:
            return {}
        try:
            values = await self._cache.get_many(keys)
        except Exception:
            log.warning("score cache lookup failed; treating as misses", exc_info=True)
            return {}
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    async def _store(self, fresh: dict[str, list[float]], kind: str) -> None:
        try:
            await self._cache.set_many(fresh, kind)
        except Exception:
            log.warning("score cache write failed; continuing", exc_info=True)
