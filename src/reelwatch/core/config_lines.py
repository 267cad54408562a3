"""Where each key of a TOML file is written: key path -> line number, for ruff-style
``file:line: message`` config errors.

``tomllib`` keeps no positions, so this is a small scanner of its own. It runs only on text
that ``tomllib`` has already accepted, and understands exactly what is needed to number the
keys: tables, arrays of tables (``[[volumes]]`` becomes index 0, 1 ...), dotted and quoted
keys, inline tables and arrays (their elements are numbered the same way). Values are
skipped, strings of every kind included, so a ``#`` or ``=`` inside a string is never taken
for a comment or a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Path = tuple[Any, ...]
_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.out: dict[Path, int] = {}
        self.arrays: dict[Path, int] = {}

    # -- characters --------------------------------------------------------------------
    def _at(self, token: str) -> bool:
        return self.s.startswith(token, self.i)

    def _advance(self, n: int = 1) -> None:
        self.line += self.s.count("\n", self.i, self.i + n)
        self.i += n

    def _blank(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                return

    def _string(self) -> str:
        for quote in ('"""', "'''"):
            if self._at(quote):
                end = self.s.find(quote, self.i + 3)
                while quote == '"""' and end > 0 and self._escaped(end):
                    end = self.s.find(quote, end + 1)
                end = len(self.s) if end < 0 else end + 3
                while end < len(self.s) and self.s[end] == quote[0]:  # """a"""" ends on the last quote
                    end += 1
                text = self.s[self.i + 3:end - 3]
                self._advance(end - self.i)
                return text
        quote = self.s[self.i]
        j = self.i + 1
        while j < len(self.s) and self.s[j] != quote and self.s[j] != "\n":
            j += 2 if quote == '"' and self.s[j] == "\\" else 1
        text = self.s[self.i + 1:j]
        if quote == '"':
            try:
                import json
                text = json.loads(f'"{text}"')
            except ValueError:
                pass
        self._advance(j + 1 - self.i)
        return text

    def _escaped(self, pos: int) -> bool:
        slashes = 0
        while pos - 1 - slashes >= 0 and self.s[pos - 1 - slashes] == "\\":
            slashes += 1
        return slashes % 2 == 1

    # -- keys and values ---------------------------------------------------------------
    def _key(self) -> Path:
        parts: list[str] = []
        while True:
            self._blank(False)
            if self.i < len(self.s) and self.s[self.i] in "\"'":
                parts.append(self._string())
            else:
                j = self.i
                while j < len(self.s) and self.s[j] in _BARE:
                    j += 1
                if j == self.i:
                    raise ValueError(f"no key at line {self.line}")
                parts.append(self.s[self.i:j])
                self._advance(j - self.i)
            self._blank(False)
            if self._at("."):
                self._advance()
                continue
            return tuple(parts)

    def _value(self, path: Path) -> None:
        self._blank(False)
        c = self.s[self.i] if self.i < len(self.s) else ""
        if c in "\"'":
            self._string()
        elif c == "[":
            self._advance()
            index = 0
            while True:
                self._blank(True)
                if self._at("]"):
                    self._advance()
                    return
                self.out.setdefault((*path, index), self.line)
                self._value((*path, index))
                self._blank(True)
                if self._at(","):
                    self._advance()
                    index += 1
        elif c == "{":
            self._advance()
            while True:
                self._blank(False)
                if self._at("}"):
                    self._advance()
                    return
                if self._at(","):
                    self._advance()
                    continue
                key = (*path, *self._key())
                self.out.setdefault(key, self.line)
                self._blank(False)
                if self._at("="):
                    self._advance()
                self._value(key)
        else:
            j = self.i
            while j < len(self.s) and self.s[j] not in ",]}\n#":
                j += 1
            self._advance(j - self.i)

    def _resolve(self, parts: Path) -> Path:
        """Insert the current index of every array of tables along a header's path."""
        out: Path = ()
        for part in parts:
            out = (*out, part)
            if out in self.arrays:
                out = (*out, self.arrays[out])
        return out

    def scan(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self._blank(True)
            if self.i >= len(self.s):
                return self.out
            line = self.line
            if self._at("[["):
                self._advance(2)
                parts = self._key()
                base = self._resolve(parts[:-1]) + parts[-1:]
                self.arrays[base] = self.arrays.get(base, -1) + 1
                table = (*base, self.arrays[base])
                self.out.setdefault(base, line)
                self.out.setdefault(table, line)
                self._advance(2 if self._at("]]") else 0)
            elif self._at("["):
                self._advance()
                table = self._resolve(self._key())
                self.out.setdefault(table, line)
                self._advance(1 if self._at("]") else 0)
            else:
                key = (*table, *self._key())
                self.out.setdefault(key, line)
                self._blank(False)
                if self._at("="):
                    self._advance()
                self._value(key)


def key_lines(text: str) -> dict[Path, int]:
    """Key path -> 1-based line number, for every key, table and array element in ``text``.
    Best effort: a construct the scanner does not follow ends the map there."""
    scanner = _Scanner(text)
    try:
        return scanner.scan()
    except (ValueError, IndexError):
        return scanner.out


def line_of(lines: Mapping[Path, int], loc: Path) -> int | None:
    """The line of ``loc``, or of its nearest written ancestor (a key that is missing
    is reported where its table is)."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def raw_list(raw: Mapping[str, Any], key: str) -> list[Any]:
    """``raw[key]`` when it is a list, else an empty one: cross-section checks read unvalidated data."""
    value = raw.get(key)
    return value if isinstance(value, list) else []


def raw_map(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``raw[key]`` when it is a table, else an empty one: cross-section checks read unvalidated data."""
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}
