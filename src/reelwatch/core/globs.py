"""Path globs as the config writes them: ``Camera Media/**``, ``**/*.mov``, ``VFX/*/plates/**``.

``*`` matches within one folder name, ``**`` matches any number of folders (including
none), ``?`` one character, ``[abc]`` a set. Matching is on the whole relative path, in the
same style as watchdog 7's ``full_match`` patterns.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a glob to an anchored regular expression."""
    pattern = pattern.strip("/")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def match(relpath: str, pattern: str) -> bool:
    """True when ``relpath`` (posix, relative to the volume root) matches ``pattern``."""
    return compile_glob(pattern).match(relpath.strip("/")) is not None


def applies(relpath: str, volume: str, volumes: tuple[str, ...] | list[str] | None,
            globs: tuple[str, ...] | list[str] | None) -> bool:
    """Shared scoping test for rule config: empty ``volumes``/``globs`` mean "everywhere"."""
    if volumes and volume not in volumes:
        return False
    if globs:
        return any(match(relpath, g) for g in globs)
    return True
