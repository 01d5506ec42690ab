"""Reading :class:`Settings` from the environment, with errors an operator can act on.

Two kinds of misconfiguration are caught here before anything starts:

* a value that does not parse (``REWARDGATE_PORT=abc``) is a :class:`ConfigError`
  whose message names the variable (or the command-line option that set it),
  not pydantic's field name;
* a ``REWARDGATE_*`` variable that nothing reads (``REWARDGATE_REDIS_ULR``) is
  reported by :func:`unknown_variables`, with the closest known name, so a
  typo is not silently ignored while the setting it meant keeps its default.

The prefix is shared with the client side (rewardgate_client and the trainer
adapters read their own ``REWARDGATE_*`` variables, often in the same
environment), so those names are known too.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from rewardgate.config.settings import Settings
from rewardgate.errors import ConfigError

PREFIX = "REWARDGATE_"

#: Variables read by other programs of the project: rewardgate_client and its trainer
#: adapters (clients/), and the Triton python backend (rewardgate/sources/model/triton/).
#: tests/unit/test_environment.py checks this list against the client sources.
OTHER_VARIABLES = frozenset(
    {
        "REWARDGATE_API_KEY",
        "REWARDGATE_URL",
        "REWARDGATE_PIPELINE",
        "REWARDGATE_TIMEOUT_S",
        "REWARDGATE_ROUTES",
        "REWARDGATE_RETRY_ATTEMPTS",
        "REWARDGATE_RETRY_MAX_BACKOFF_S",
        "REWARDGATE_SITE_DIRS",
        # verl adapter: samples per group (rollout.n) and the extra_info key naming the group.
        "REWARDGATE_GROUP_SIZE",
        "REWARDGATE_GROUP_KEY",
    }
)


def variable_name(field: str) -> str:
    """The environment variable of a settings field (``port`` -> ``REWARDGATE_PORT``)."""
    return PREFIX + field.upper()


def setting_variables() -> frozenset[str]:
    """Every variable :class:`Settings` reads."""
    return frozenset(variable_name(field) for field in Settings.model_fields)


def load_settings(overrides: Mapping[str, Any] | None = None, options: Mapping[str, str] | None = None):
    """``Settings(**overrides)`` with the environment underneath.

    ``options`` maps a field to the command-line option that set it (``{"port": "--port"}``),
    so an error names what the operator typed.

    Raises:
        ConfigError: one line per bad value, each naming its variable or option.
    """
    overrides = dict(overrides or {})
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(error, overrides, options or {}) for error in exc.errors()]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None


def _describe(error: dict, overrides: Mapping[str, Any], options: Mapping[str, str]) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if not error.get("loc"):
        return message  # a check across settings; its message names the variables
    field = str(error["loc"][0])
    where = options.get(field, f"--{field.replace('_', '-')}") if field in overrides else variable_name(field)
    value = error.get("input")
    shown = f"={value!r}" if isinstance(value, str | int | float) else ""
    return f"{where}{shown}: {message}"


def unknown_variables(environ: Mapping[str, str] | None = None, also_known: Iterable[str] = ()) -> list[str]:
    """One message per ``REWARDGATE_*`` variable that nothing reads, with a did-you-mean.

    ``also_known`` adds names read elsewhere (a judge's ``api_key_env`` in the pipeline file).
    """
    environ = os.environ if environ is None else environ
    settings = setting_variables()
    known = settings | OTHER_VARIABLES | {name.upper() for name in also_known}
    messages = []
    for name in sorted(environ):
        # Settings are read whatever the case (rewardgate_port too), so names are compared upper-cased.
        if not name.upper().startswith(PREFIX) or name.upper() in known:
            continue
        guess = difflib.get_close_matches(name.upper(), sorted(settings | OTHER_VARIABLES), n=1, cutoff=0.8)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        messages.append(f"unknown environment variable {name}{hint}: nothing reads it")
    return messages
