"""Which files a step's ``inputs`` (and ``outputs``) globs name, anchored at the rootdir.

The rules of SPEC §15: ``*`` and ``?`` stay inside one folder, ``**`` crosses folders, ``dir/**``
and a bare folder name are every file under it, a leading ``!`` excludes, and the last pattern
that matches a file decides. Files count whether git tracks or ignores them; only ``.git`` itself
and the cache's own folders are never inputs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_GLOB_CHARS = re.compile(r"[*?\[]")
NEVER_INPUTS = frozenset({".git"})


@dataclass(frozen=True)
class Pattern:
    """One glob of a step's list: what it matches and whether it includes or excludes."""

    text: str
    include: bool
    regex: re.Pattern[str]
    base: str  # the folder before the first glob character: only it needs walking
    depth: int | None  # how many folders below ``base`` a match can lie; None: any (``**``)

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


def compile_patterns(patterns: Sequence[str], rootdir: Path) -> tuple[Pattern, ...]:
    return tuple(_compile(text, rootdir) for text in patterns)


def _compile(text: str, rootdir: Path) -> Pattern:
    include = not text.startswith("!")
    glob = (text if include else text[1:]).strip().lstrip("./").rstrip("/") or "."
    if glob == ".":
        glob = "**"
    elif not _GLOB_CHARS.search(glob) and (rootdir / glob).is_dir():
        glob += "/**"
    literal = _GLOB_CHARS.split(glob, maxsplit=1)[0]
    if not _GLOB_CHARS.search(glob):
        literal = glob
    base = literal.rsplit("/", 1)[0] if "/" in literal else ""
    rest = glob[len(base) :].lstrip("/")
    depth = None if "**" in rest else rest.count("/")
    return Pattern(text, include, re.compile(_translate(glob)), base, depth)


def _translate(glob: str) -> str:
    """A glob as a regex over rootdir-relative POSIX paths."""
    out: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", index + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = glob[index + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def matching_files(
    patterns: Sequence[Pattern], rootdir: Path, skip: Iterable[Path] = ()
) -> tuple[list[str], list[str]]:
    """The sorted rootdir-relative files the patterns select, and the patterns that matched none.

    Only the folders the including patterns can reach are walked; ``skip`` names folders (the
    cache store, say) whose files are never inputs.
    """
    skipped = {p.resolve() for p in skip}
    candidates: set[str] = set()
    for base, depth in _walk_roots([(p.base, p.depth) for p in patterns if p.include]):
        candidates.update(_files_under(rootdir, base, depth, skipped))
    chosen: list[str] = []
    hits = dict.fromkeys((p.text for p in patterns), False)
    for path in sorted(candidates):
        decision = None
        for pattern in patterns:
            if pattern.matches(path):
                hits[pattern.text] = True
                decision = pattern.include
        if decision:
            chosen.append(path)
    unmatched = [p.text for p in patterns if p.include and not hits[p.text]]
    return chosen, unmatched


def _walk_roots(reaches: Sequence[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """The fewest walks: per base folder the deepest reach, and no base inside an unlimited one."""
    deepest: dict[str, int | None] = {}
    for base, depth in reaches:
        if base in deepest:
            known = deepest[base]
            deepest[base] = None if known is None or depth is None else max(known, depth)
        else:
            deepest[base] = depth
    unlimited = [b for b, d in deepest.items() if d is None]
    return [
        (base, depth)
        for base, depth in sorted(deepest.items())
        if not any(u != base and (u == "" or base.startswith(u + "/")) for u in unlimited)
    ]


def _files_under(rootdir: Path, base: str, depth: int | None, skipped: set[Path]) -> Iterable[str]:
    start = rootdir / base if base else rootdir
    if start.is_file():
        yield base
        return
    prefix = f"{base}/" if base else ""
    for folder, dirs, files in os.walk(start):
        relative = os.path.relpath(folder, start)
        relative = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        if depth is not None and relative.count("/") >= depth:
            dirs[:] = []
        else:
            dirs[:] = [
                d
                for d in dirs
                if d not in NEVER_INPUTS and (Path(folder) / d).resolve() not in skipped
            ]
        for name in files:
            yield f"{prefix}{relative}{name}"


# --- what a built-in check reads, from its parameters ------------------------------------------

# The with: parameters of each built-in check that name files or folders it reads (SPEC §15).
_CHECK_INPUTS: Mapping[str, tuple[str, ...]] = {
    "gherkin": ("paths",),
    "schema": ("files", "schema"),
    "registry": ("table", "dir"),
    "ac-trace": ("features", "matrix"),
    "forbid": ("files",),
    "graph": ("file",),
    "coverage": ("data_file",),
    "python-compile": ("paths",),
}


def derived_inputs(
    check: str, params: Mapping[str, Any], step_files: Sequence[str]
) -> tuple[str, ...] | None:
    """The input globs of a built-in check, or None when it has none to derive (``rego``, a
    third-party check: they must declare ``inputs``). ``ac-trace`` also reads the step files."""
    keys = _CHECK_INPUTS.get(check)
    if keys is None:
        return None
    found: list[str] = []
    for key in keys:
        value = params.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    if check == "ac-trace":
        found.extend(step_files)
    return tuple(found)
