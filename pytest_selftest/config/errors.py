"""The one error type of a configuration problem, and the wording its messages share.

Raised by :mod:`pytest_selftest.config` (unreadable files, bad ``[tool.selftest]`` keys, a bad
catalogue, an unknown step id), by :mod:`pytest_selftest.policy` (through ``PolicyError``) and
caught by the plugin (exit 2 and a CONFIG_ERROR report) and the commands (exit 2). Pure: the
policy imports it, so it imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Sequence

CONFIG_ERROR_EXIT = 2


class ConfigError(Exception):
    """The configuration cannot be trusted; ``messages`` holds one line per problem.

    Each message names its file and line where there is one. ``keys`` is set for a problem
    found below ``[tool.selftest]`` before its line is known (``envs, team, cache``):
    :func:`pytest_selftest.config.validate.located` puts ``pyproject.toml:<line>:`` in front.
    """

    def __init__(self, messages: str | Sequence[str], keys: tuple[str, ...] = ()) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))
        self.keys = keys


def quoted(name: str) -> str:
    """A name as messages show it, ``'dev'``; with an unprintable character, its repr."""
    return f"'{name}'" if name.isprintable() and "'" not in name else repr(name)


def suggestion(word: str, candidates: Sequence[str], listed_as: str = "expected") -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (case aside first), else
    `` (expected: a, b)``; odd characters escaped, so that the message stays on one line."""
    import difflib  # only a configuration with a problem needs it

    same_but_case = [c for c in candidates if c.lower() == word.lower()]
    close = same_but_case or difflib.get_close_matches(word, candidates, n=1)
    if close:
        return f" (did you mean {quoted(close[0])}?)"
    shown = (c if c.isprintable() and c else repr(c) for c in candidates)
    return f" ({listed_as}: {', '.join(shown)})"


def whole_number(value: object) -> int | None:
    """``value`` as a whole number >= 1 (ini values arrive as text, TOML ones may be ints), else
    None; a bool is no number."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 1 else None
