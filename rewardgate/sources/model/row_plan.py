"""Which sequences share a packed row, and what a layout costs.

Pure arithmetic on sequence lengths (no tensors): :mod:`packing` turns a plan
into rows. Two attention regimes decide what a good plan is:

* **varlen** (flash-attention's variable-length kernel) computes only each
  sequence's own causal triangle, whatever the row: everything goes into as
  few rows of ``row_tokens`` as possible (:func:`plan_rows`).
* **masked** (sdpa, eager: a ``C x C`` block-diagonal mask per row) computes
  every entry of the mask, masked or not. A row of width ``C`` costs about
  ``C x (attention_tokens + C)`` attention-entry units: each token's work
  with the weights, worth ``attention_tokens`` entries
  (:func:`attention_tokens_for`), plus its ``C`` entries. Wide rows pack
  tightly but pay the square; :func:`choose_rows` weighs the two for every
  row count and balances the rows (:func:`balanced_rows`), so little is lost
  to a half-empty last row.

:func:`layout_work` states what a layout really computes, attention included,
so a token-density figure never hides the masked entries it costs.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


def plan_rows(lengths: Sequence[int], row_tokens: int) -> list[list[int]]:
    """Sequence indices per row: first-fit decreasing under ``row_tokens`` (the varlen plan).

    A sequence longer than ``row_tokens`` gets a row of its own (rows are as
    long as their fullest one, so it only lengthens that batch).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rows: list[list[int]] = []
    free: list[int] = []
    for index in order:
        length = lengths[index]
        for row, room in enumerate(free):
            if length <= room:
                rows[row].append(index)
                free[row] -= length
                break
        else:
            rows.append([index])
            free.append(row_tokens - length)
    return rows


def balanced_rows(lengths: Sequence[int], count: int) -> list[list[int]]:
    """Sequence indices in at most ``count`` rows whose fullest row is as short as found.

    Longest-first onto the least loaded row (LPT), then moves and swaps out
    of the fullest row while one lowers it below its current load
    (:func:`_repair`). LPT alone leaves rows of two or three long sequences
    uneven (the fullest row sets the width of all of them); the repair closes
    most of that gap. Empty rows (``count`` above the number of sequences)
    are dropped.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rows, loads = _longest_first(lengths, order, count)
    _repair(lengths, rows, loads)
    return [row for row in rows if row]


def _longest_first(lengths: Sequence[int], order: list[int], count: int) -> tuple[list[list[int]], list[int]]:
    """LPT: ``order`` (longest first) each onto the least loaded of ``count`` rows."""
    count = max(1, min(count, len(lengths)))
    rows: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    heap = [(0, r) for r in range(count)]
    for index in order:
        load, r = heapq.heappop(heap)
        rows[r].append(index)
        loads[r] = load + lengths[index]
        heapq.heappush(heap, (loads[r], r))
    return rows, loads


def _repair(lengths: Sequence[int], rows: list[list[int]], loads: list[int]) -> None:
    """Lower the fullest row by moves and swaps while one helps (in place).

    Every accepted change strictly lowers the sum of squared row loads, so
    the loop ends; it is also capped.
    """
    for _ in range(4 * sum(map(len, rows))):
        if not _improve_fullest(lengths, rows, loads):
            return


def _improve_fullest(lengths: Sequence[int], rows: list[list[int]], loads: list[int]) -> bool:
    """One move or swap that lowers the fullest row without raising another to its load."""
    top = max(range(len(rows)), key=loads.__getitem__)
    peak = loads[top]
    for other in sorted(range(len(rows)), key=loads.__getitem__):
        gap = peak - loads[other]
        if other == top or gap <= 1:
            continue  # (the fullest row itself, or equal-load rows: nothing to gain)
        # Moving d tokens from top to other keeps both below peak iff 0 < d < gap;
        # d closest to gap / 2 balances the pair best.
        best: tuple[int, int, int | None] | None = None
        for a_at, a in enumerate(rows[top]):
            for b_at, b in [(None, None), *enumerate(rows[other])]:
                moved = lengths[a] - (0 if b is None else lengths[b])
                if 0 < moved < gap and (best is None or abs(gap - 2 * moved) < best[0]):
                    best = (abs(gap - 2 * moved), a_at, b_at)
        if best is None:
            continue
        _, a_at, b_at = best
        a = rows[top].pop(a_at)
        rows[other].append(a)
        moved = lengths[a]
        if b_at is not None:
            b = rows[other].pop(b_at)
            rows[top].append(b)
            moved -= lengths[b]
        loads[top] -= moved
        loads[other] += moved
        return True
    return False


def _width(lengths: Sequence[int], layout: list[list[int]]) -> int:
    return max(sum(lengths[i] for i in row) for row in layout)


def choose_rows(lengths: Sequence[int], row_tokens: int, attention_tokens: int | None) -> list[list[int]]:
    """Rows for ``lengths``: the plan with the least estimated forward cost.

    ``attention_tokens`` None (varlen attention: no masked entries): rows of
    ``row_tokens``, tightest packing (:func:`plan_rows`). Otherwise a plan of
    ``R`` rows of width ``W`` (its fullest row, at most ``max(row_tokens,
    longest)``) costs ``R x W x (attention_tokens + W)``, and the cheapest of
    these wins:

    * first-fit decreasing at widths of 1, 1.25, ..., 2 times the longest
      sequence, then doubling (what a few long sequences per row fill best);
    * longest-first plans for row counts tried in order of their cost bound
      (width at least ``total / R`` and the longest sequence), stopping when
      no untried count can win; then, cheapest first, each repaired
      (:func:`_repair`) while its bound can still beat the best.
    """
    if attention_tokens is None:
        return plan_rows(lengths, row_tokens)
    plans = _Plans(lengths, max(row_tokens, max(lengths)), attention_tokens)
    widths = [plans.longest * q // 4 for q in range(4, 9)]
    while widths[-1] * 2 < plans.cap:
        widths.append(widths[-1] * 2)
    for width in sorted({*widths, plans.cap}):
        plan = plan_rows(lengths, min(width, plans.cap))
        plans.offer(plan, _width(lengths, plan))
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    tried: list[tuple[int, int, list[list[int]], list[int]]] = []
    for count in sorted(range(-(-plans.total // plans.cap), len(lengths) + 1), key=plans.bound):
        if plans.bound(count) >= plans.best_cost:
            break
        rows, loads = _longest_first(lengths, order, count)
        tried.append((plans.offer(rows, max(loads)), count, rows, loads))
    for _, count, rows, loads in sorted(tried, key=lambda plan: plan[0]):
        if plans.bound(count) < plans.best_cost:
            _repair(lengths, rows, loads)
            plans.offer(rows, max(loads))
    return plans.best


class _Plans:
    """The cheapest plan offered so far, and the cost bound of a row count."""

    def __init__(self, lengths: Sequence[int], cap: int, attention_tokens: int) -> None:
        self.cap, self.attention_tokens = cap, attention_tokens
        self.total, self.longest = sum(lengths), max(lengths)
        self.best = [[i] for i in range(len(lengths))]  # one per row: always within the cap
        self.best_cost = self.cost(len(lengths), self.longest)

    def cost(self, rows: int, width: int) -> int:
        return rows * width * (self.attention_tokens + width) if width <= self.cap else 1 << 62

    def bound(self, count: int) -> int:
        return self.cost(count, max(self.longest, -(-self.total // count)))

    def offer(self, rows: list[list[int]], width: int) -> int:
        """Keep ``rows`` (empty rows dropped) if cheaper than the best; returns its cost."""
        used = [row for row in rows if row]
        cost = self.cost(len(used), width)
        if cost < self.best_cost:
            self.best_cost, self.best = cost, used
        return cost


@dataclass(frozen=True, slots=True)
class LayoutWork:
    """What a layout computes, in tokens and in attention entries (per layer and head dim).

    ``causal_entries``: the entries a causal kernel needs for the sequences
    alone (``sum L(L+1)/2``), the least any layout can compute.
    ``attention_entries``: what this layout's kernel computes: every entry of
    each ``C x C`` row under a mask (sdpa, eager, and padded rows, whose
    padding mask also rules out a causal kernel), the causal triangles under
    varlen attention.
    """

    real_tokens: int
    computed_tokens: int
    causal_entries: int
    attention_entries: int

    @property
    def token_efficiency(self) -> float:
        return self.real_tokens / self.computed_tokens

    @property
    def attention_efficiency(self) -> float:
        return self.causal_entries / self.attention_entries

    def work_efficiency(self, attention_tokens: int) -> float:
        """Needed / computed forward work, the weights' and attention's together."""
        needed = self.real_tokens * attention_tokens + self.causal_entries
        return needed / (self.computed_tokens * attention_tokens + self.attention_entries)

    def __add__(self, other: LayoutWork) -> LayoutWork:
        return LayoutWork(
            self.real_tokens + other.real_tokens,
            self.computed_tokens + other.computed_tokens,
            self.causal_entries + other.causal_entries,
            self.attention_entries + other.attention_entries,
        )


def layout_work(lengths: Sequence[int], layout: list[list[int]], *, varlen: bool) -> LayoutWork:
    """:class:`LayoutWork` of ``layout`` (rows of indices into ``lengths``, as wide as the fullest)."""
    width = _width(lengths, layout)
    causal = sum(n * (n + 1) // 2 for n in lengths)
    return LayoutWork(
        real_tokens=sum(lengths),
        computed_tokens=len(layout) * width,
        causal_entries=causal,
        attention_entries=causal if varlen else len(layout) * width * width,
    )


def padded_work(lengths: Sequence[int]) -> LayoutWork:
    """:class:`LayoutWork` of one right-padded, masked row per sequence."""
    return layout_work(lengths, [[i] for i in range(len(lengths))], varlen=False)


def attention_tokens_for(config, linear_weights_per_layer: int) -> int:
    """Attention entries one token's weight work is worth, for :func:`choose_rows`.

    A token costs one multiply-add per weight of a layer's linear maps
    (``linear_weights_per_layer``: q, k, v, o and the MLP, counted on the
    loaded model) and two per query dimension for every attention entry (the
    ``QK^T`` score and its share of ``PV``), so one token's weight work equals
    ``weights / (2 x query dims)`` entries (Llama-3-8B: about 26,600; a
    mixture of experts counts every expert and so overstates it).
    """
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return max(1, linear_weights_per_layer // (2 * heads * head_dim))
