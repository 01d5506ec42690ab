"""The response inside an OpenRLHF query (prompt + response), by one documented rule.

OpenRLHF hands a reward function, and posts to ``/get_reward``, each sample as
``query`` (the decoded prompt + response) with its ``prompt``. The query does
not always contain the prompt verbatim: a vision-language prompt's ``<image>``
is expanded into many placeholder tokens, OpenRLHF may truncate a long prompt,
and a chat template or BOS may surround it. The rule, used by the service's
``/get_reward`` and by :mod:`rewardgate_client.integrations.openrlhf` alike:

1. an empty prompt: the whole query is the response;
2. the prompt occurs in the query: the response is what follows its first
   occurrence;
3. else the longest end of the prompt that occurs in the query, if it has
   at least :data:`MIN_ANCHOR_CHARS` characters (the prompt's end survived:
   expanded placeholders before it, its start truncated): what follows its
   first occurrence;
4. else the longest start of the prompt that occurs in the query, by the same
   measure (the prompt's end was truncated): what follows its first occurrence;
5. else (no run of :data:`MIN_ANCHOR_CHARS` characters of the prompt's start or
   end is in the query) the whole query.

Why it is safe against a response that copies the prompt (a worked example,
the answer in the question): the prompt's text is removed wherever the query
still holds it, and copying more of the prompt into the response can only
move the cut further into the response (a longer match ends there), removing
the copy, never adding prompt text to what is scored. Every sample gets a
response: none is dropped (an OpenRLHF sample without a reward fails its
step).
"""

from __future__ import annotations

#: Shortest start or end of a prompt taken as the place where it ends in a query: shorter runs
#: (a newline, "the") occur in responses by chance.
MIN_ANCHOR_CHARS = 16


def response_of(query: str, prompt: str) -> str:
    """The response part of ``query`` for ``prompt``, by the module's rule (never raises)."""
    if not prompt:
        return query
    at = query.find(prompt)
    if at >= 0:
        return query[at + len(prompt) :]
    least = min(MIN_ANCHOR_CHARS, len(prompt))
    end = _longest(query, prompt, least, lambda k: prompt[len(prompt) - k :])
    if end:
        return query[query.find(end) + len(end) :]
    start = _longest(query, prompt, least, lambda k: prompt[:k])
    if start:
        return query[query.find(start) + len(start) :]
    return query


def _longest(query: str, prompt: str, least: int, piece) -> str:
    """The longest ``piece(k)`` (k >= ``least``) found in ``query``, or "".

    Found-ness is monotone in k (a longer start or end of the prompt contains the
    shorter one), so a binary search needs O(log n) substring searches."""
    if piece(least) not in query:
        return ""
    low, high = least, len(prompt) - 1  # the whole prompt is known not to occur
    while low < high:
        middle = (low + high + 1) // 2
        if piece(middle) in query:
            low = middle
        else:
            high = middle - 1
    return piece(low)
