"""The line of each table, key and array item of a TOML document (tomllib gives none).

Rules of this module:
- `locate` reads a document that tomllib has already parsed, so it trusts the
  syntax and only follows it: table headers (`[a."b c"]`, `[[a]]`), dotted and
  quoted keys, strings of the four kinds, arrays and inline tables across lines,
  comments;
- paths are the ones tomllib's data has: keys as tomllib decodes them (quoted
  keys through tomllib itself), array items and arrays of tables by index;
- a table or key first made implicitly (by `[a.b]` or `a.b = 1`) has the line
  where it first appears; an explicit header gives its own line;
- it never raises: a document it cannot follow keeps the lines found so far, and
  a message then names the nearest enclosing line;
- text only: no I/O.
"""

from __future__ import annotations

import bisect
import contextlib
import tomllib

FieldPath = tuple[str | int, ...]

BARE_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
SPACE = " \t"
SCALAR_END = ",]}#\n\r"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
        self.lines: dict[FieldPath, int] = {}
        self.arrays: dict[FieldPath, int] = {}  # array-of-tables path -> index of its last table

    def line(self) -> int:
        return bisect.bisect_right(self.starts, self.pos)

    def peek(self, size: int = 1) -> str:
        return self.text[self.pos : self.pos + size]

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def skip_blank(self) -> None:
        """Spaces, newlines and comments, as between the items of an array."""
        while self.pos < len(self.text):
            self.skip(SPACE + "\r\n")
            if self.peek() != "#":
                return
            self.to_line_end()

    def to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def advanced(self, since: int) -> None:
        """Refuse to loop in place on text this scanner does not follow."""
        if self.pos == since:
            raise ValueError(f"cannot follow the text at {self.pos}")

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at {self.pos}")
        self.pos += len(token)

    # --- keys -----------------------------------------------------------------------------------

    def simple_key(self) -> str:
        quote = self.peek()
        if quote in {'"', "'"}:
            start = self.pos
            self.string()
            decoded: str = tomllib.loads(f"k = {self.text[start : self.pos]}")["k"]
            return decoded
        start = self.pos
        self.skip(BARE_KEY)
        if self.pos == start:
            raise ValueError(f"no key at {self.pos}")
        return self.text[start : self.pos]

    def key(self) -> list[str]:
        parts = [self.simple_key()]
        while True:
            self.skip(SPACE)
            if self.peek() != ".":
                return parts
            self.pos += 1
            self.skip(SPACE)
            parts.append(self.simple_key())

    # --- values ---------------------------------------------------------------------------------

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.pos += 3
            while not self.text.startswith(quote * 3, self.pos):
                self.pos += 2 if quote == '"' and self.peek() == "\\" else 1
                if self.pos >= len(self.text):
                    raise ValueError("unclosed string")
            self.pos += 3
            for _extra in range(2):  # up to two quotes may end the content: """a""""
                if self.peek() == quote:
                    self.pos += 1
            return
        self.pos += 1
        while self.peek() != quote:
            if self.pos >= len(self.text):
                raise ValueError("unclosed string")
            self.pos += 2 if quote == '"' and self.peek() == "\\" else 1
        self.pos += 1

    def value(self, path: FieldPath) -> None:
        char = self.peek()
        if char in {'"', "'"}:
            self.string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in SCALAR_END:
                self.pos += 1

    def array(self, path: FieldPath) -> None:
        self.expect("[")
        index = 0
        while True:
            since = self.pos
            self.skip_blank()
            if self.peek() == "]":
                self.pos += 1
                return
            item = (*path, index)
            self.lines[item] = self.line()
            self.value(item)
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
                index += 1
            self.advanced(since)

    def inline_table(self, path: FieldPath) -> None:
        self.expect("{")
        while True:
            since = self.pos
            self.skip_blank()
            if self.peek() == "}":
                self.pos += 1
                return
            self.assignment(path)
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
            self.advanced(since)

    def assignment(self, table: FieldPath) -> None:
        """`key = value` inside `table`: the key's path (and each implicit table on it) gets this line."""
        line = self.line()
        keys = self.key()
        for size in range(1, len(keys) + 1):
            self.lines.setdefault((*table, *keys[:size]), line)
        self.skip(SPACE)
        self.expect("=")
        self.skip(SPACE)
        self.value((*table, *keys))

    # --- the document ---------------------------------------------------------------------------

    def table_path(self, keys: list[str]) -> FieldPath:
        """The data path of a header's keys: through an array of tables, its last table."""
        path: FieldPath = ()
        named: tuple[str, ...] = ()
        for key in keys:
            named = (*named, key)
            path = (*path, key)
            if named in self.arrays:
                path = (*path, self.arrays[named])
        return path

    def header(self) -> FieldPath:
        line = self.line()
        many = self.peek(2) == "[["
        self.pos += 2 if many else 1
        self.skip(SPACE)
        keys = self.key()
        self.skip(SPACE)
        self.expect("]]" if many else "]")
        if many:
            named = tuple(keys)
            self.arrays[named] = self.arrays.get(named, -1) + 1
        path = self.table_path(keys)
        for size in range(1, len(path)):
            self.lines.setdefault(path[:size], line)
        self.lines[path] = line
        return path

    def document(self) -> None:
        table: FieldPath = ()
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.assignment(table)
            self.skip(SPACE)
            if self.peek() == "#":
                self.to_line_end()


def locate(text: str) -> dict[FieldPath, int]:
    """The 1-based line of each table, key and array item of a TOML document tomllib parsed."""
    scanner = _Scanner(text)
    # Text it cannot follow keeps the lines found so far: messages name the nearest enclosing line.
    with contextlib.suppress(ValueError, IndexError, tomllib.TOMLDecodeError, RecursionError):
        scanner.document()
    return scanner.lines
