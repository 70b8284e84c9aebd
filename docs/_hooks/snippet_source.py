"""The code of a snippet section as a page in a given language shows it.

Snippets are written once, in English (``snippets/<page>.py``). A Chinese page shows the same
code with its comments, and the strings it prints to teach, in Chinese: the translations live in
``snippets/zh/<page>.toml``::

    [comments]  # every comment of a shown section, whole, English = Chinese
    "the label value the loss skips" = "损失跳过的标签值"

    [strings]   # replaced inside string literals only, never in the code around them
    "has seen" = "已读入"

A ``[strings]`` entry matches within one string literal, its prefix and quotes included (so
``'"en"' = '"zh"'`` swaps that literal whole); an occurrence whose replacement would change
the code inside an f-string's braces is left as it is, so ``"of" = "共"`` touches neither
``log_softmax`` nor ``f"{offset}"``.

The code itself is identical in both languages by construction; ``tests/test_snippets.py``
checks that the tokens other than comments and strings are equal, that every comment has its
translation and that no entry is unused. The MkDocs hook ``site_snippets.py`` and the tests both
use this module, so a page shows exactly the code the tests run.
"""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "snippets"
OUTPUTS = SNIPPETS / "output"
LANGUAGES = ("en", "zh")
_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):([\w-]+)\]\s*$")
# A comment that needs a translation holds an English word; "(1, 2 + 1 + 1)" does not.
_WORDY = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Section:
    name: str
    code: str
    first_line: int  # 1-based line of the section's first code line

    def compiled(self, path: Path):
        # Leading newlines keep tracebacks pointing at the snippet file's own lines.
        return compile("\n" * (self.first_line - 1) + self.code, str(path), "exec")


@dataclass(frozen=True)
class Translation:
    comments: dict[str, str]
    strings: dict[str, str]


def read_sections(path: Path, lang: str = "en") -> list[Section]:
    """The sections of ``path`` in file order, as the ``lang`` pages show them.

    Every code line must lie in a section.
    """
    sections: list[Section] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        marker = _MARKER.match(line)
        if marker and marker[1] == "start":
            if current:
                raise ValueError(f"{path}:{number}: section {marker[2]!r} starts inside {current[0]!r}")
            current = (marker[2], number + 1, [])
        elif marker:
            if not current or current[0] != marker[2]:
                raise ValueError(f"{path}:{number}: end of {marker[2]!r} without its start")
            sections.append(Section(current[0], "\n".join(current[2]) + "\n", current[1]))
            current = None
        elif current:
            current[2].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise ValueError(f"{path}:{number}: code outside any section: {line!r}")
    if current:
        raise ValueError(f"{path}: section {current[0]!r} is never closed")
    if lang != "en":
        table = translation(path.stem, lang)
        sections = [Section(s.name, translate(s.code, table), s.first_line) for s in sections]
    return sections


def translation_path(stem: str, lang: str) -> Path:
    return SNIPPETS / lang / f"{stem}.toml"


@cache
def _load(path: Path, mtime: float) -> Translation:
    data = tomllib.loads(path.read_text(encoding="utf-8")) if mtime else {}
    unknown = set(data) - {"comments", "strings"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)}; expected [comments], [strings]")
    return Translation(dict(data.get("comments", {})), dict(data.get("strings", {})))


def translation(stem: str, lang: str) -> Translation:
    """The translation table of ``snippets/<stem>.py`` into ``lang`` (empty if there is none)."""
    path = translation_path(stem, lang)
    return _load(path, path.stat().st_mtime if path.is_file() else 0.0)


def comments(code: str) -> list[tokenize.TokenInfo]:
    return [t for t in _tokens(code) if t.type == tokenize.COMMENT]


def needs_translation(comment: str) -> bool:
    return bool(_WORDY.search(comment))


def _tokens(code: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


def translate(code: str, table: Translation) -> str:
    """``code`` with its comments and listed strings replaced by their translations.

    A comment without an entry is kept as it is (the tests require an entry for each).
    """
    lines = code.splitlines(keepends=True)
    # Right to left, so that earlier columns stay valid while a line is edited.
    for token in sorted(comments(code), key=lambda t: t.start, reverse=True):
        text = token.string[1:].strip()
        if text in table.comments:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + "# " + table.comments[text] + line[token.end[1]:]
    translated = "".join(lines)
    # Right to left again, so that the offsets of the literals before stay valid.
    for start, end in reversed(_string_literals(translated)):
        literal = translated[start:end]
        for english, chinese in table.strings.items():
            literal = _replace_in_literal(literal, english, chinese)
        translated = translated[:start] + literal + translated[end:]
    return translated


def _string_literals(code: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the string literals in ``code``, each f-string whole."""
    line_starts = [0]
    for line in code.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        return line_starts[position[0] - 1] + position[1]

    # Python 3.12+ tokenizes an f-string into pieces, FSTRING_START to FSTRING_END.
    fstring_start = getattr(tokenize, "FSTRING_START", None)
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    spans: list[tuple[int, int]] = []
    open_fstrings: list[int] = []
    for token in _tokens(code):
        if token.type == tokenize.STRING and not open_fstrings:
            spans.append((offset(token.start), offset(token.end)))
        elif token.type == fstring_start:
            open_fstrings.append(offset(token.start))
        elif token.type == fstring_end:
            start = open_fstrings.pop()
            if not open_fstrings:
                spans.append((start, offset(token.end)))
    return spans


def _replace_in_literal(literal: str, old: str, new: str) -> str:
    """``literal`` with ``old`` replaced by ``new`` wherever that keeps its f-string code."""
    code = _fstring_code(literal)
    start = 0
    while (found := literal.find(old, start)) >= 0:
        candidate = literal[:found] + new + literal[found + len(old) :]
        if _fstring_code(candidate) == code:
            literal, start = candidate, found + len(new)
        else:
            start = found + 1
    return literal


_LITERAL_HEAD = re.compile(r"""([A-Za-z]*)('''|\"\"\"|'|")""")


def _fstring_code(literal: str) -> list[str] | None:
    """The expressions in the braces of an f-string literal: [] for any other literal, None
    for text that is not one well-formed literal."""
    head = _LITERAL_HEAD.match(literal)
    quote = head[2] if head else ""
    if not head or len(literal) < head.end() + len(quote) or not literal.endswith(quote):
        return None
    if "f" not in head[1].lower():
        return []
    body = literal[head.end() : len(literal) - len(quote)]
    expressions: list[str] = []
    index = 0
    while index < len(body):
        if body.startswith(("{{", "}}"), index):
            index += 2
        elif body[index] == "{":
            index = _read_field(body, index + 1, expressions)
            if index < 0:
                return None
        elif body[index] == "}":
            return None
        else:
            index += 1
    return expressions


def _read_field(body: str, index: int, expressions: list[str]) -> int:
    """Appends the expression of the f-string field that starts at ``body[index]`` (just after
    its ``{``), then those nested in its format spec, to ``expressions``. Returns the index
    after the field's ``}``, or -1 if the field is not closed."""
    start, depth, in_spec = index, 0, False
    while index < len(body):
        char = body[index]
        if in_spec and char == "{":  # a field nested in the format spec: f"{x:{width}}"
            index = _read_field(body, index + 1, expressions)
            if index < 0:
                return -1
            continue
        if in_spec and char == "}":
            return index + 1
        if in_spec:
            pass
        elif char in "'\"":  # a string inside the expression may hold any bracket
            index = body.find(char, index + 1)
            if index < 0:
                return -1
        elif char in "([{":
            depth += 1
        elif char in ")]}" and depth:
            depth -= 1
        elif char == "}" or (char in "!:" and body[index : index + 2] != "!="):
            expressions.append(body[start:index])
            if char == "}":
                return index + 1
            in_spec = True  # a conversion (!r) and format spec (:6) are text, not code
        index += 1
    return -1


def code_tokens(code: str) -> list[tuple[int, str]]:
    """The tokens of ``code`` other than comments and string literals: what must not change."""
    skipped = {tokenize.COMMENT, tokenize.STRING}
    skipped |= {getattr(tokenize, n) for n in ("FSTRING_MIDDLE",) if hasattr(tokenize, n)}
    return [(t.type, t.string) for t in _tokens(code) if t.type not in skipped]


def output_path(snippet: Path, section: str, lang: str = "en") -> Path:
    """Where the output of ``section`` is recorded; ``<section>.zh.txt`` only if it differs."""
    suffix = "" if lang == "en" else f".{lang}"
    return OUTPUTS / snippet.stem / f"{section}{suffix}.txt"
