"""Splitting a long answer into posts a chat platform takes: at paragraph or line boundaries,
Markdown code fences closed and re-opened. Each platform passes its own limit. And Markdown
made plain: for a platform without it, and for a web chat's title. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")


def size(text: str) -> int:
    """Length in UTF-16 code units: never less than the character count, so it stays under the
    limit whichever way Chat counts (emoji take two units)."""
    return len(text.encode("utf-16-le")) // 2


def sections(text: str, cuts: Sequence[int]) -> list[str]:
    """text cut at the offsets in `cuts` (where parts of an answer went out while the model wrote
    it, partial.py), each piece to be split on its own; cuts past the end are ignored."""
    pieces, start = [], 0
    for cut in cuts:
        if start < cut < len(text):
            pieces.append(text[start:cut])
            start = cut
    return [*pieces, text[start:]]


def split_sections(text: str, cuts: Sequence[int], limit: int) -> list[str]:
    """split_message of each of text's sections: the posts an answer becomes."""
    return [post for piece in sections(text, cuts) for post in split_message(piece, limit)]


def split_message(text: str, limit: int) -> list[str]:
    """Split text into posts of at most `limit`, at paragraph or line boundaries. A code block
    that has to be cut is closed at the end of one post and re-opened, with its language, at the
    start of the next."""
    text = text.strip("\n")
    if size(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    lines: list[tuple[str, str | None]] = []  # (line, fence open after it)
    fence: str | None = None
    for line in _hard_wrap(text.split("\n"), limit - 8):
        after = fence_after(line, fence)
        while True:
            candidate = [*lines, (line, after)]
            if _rendered_size(candidate) <= limit or _only_header(lines):
                lines = candidate
                break
            cut = _best_cut(lines, limit)
            head, tail = lines[:cut], lines[cut:]
            chunks.append(_render(head))
            open_fence = head[-1][1]
            lines = ([(open_fence, open_fence)] if open_fence else []) + tail
        fence = after
    if lines:
        chunks.append(_render(lines))
    return [c for c in chunks if c.strip()]


def fence_after(line: str, fence: str | None) -> str | None:
    """The code fence open after `line`: its opening line (with the language), or None."""
    match = _FENCE.match(line)
    if not match:
        return fence
    if fence is None:
        return line.strip()
    stripped = line.strip()
    marker = _marker(fence)
    closes = set(stripped) == {marker[0]} and len(stripped) >= len(marker)
    return None if closes else fence


def closed(text: str) -> str:
    """text with a code block it leaves open closed, so what follows it is not code."""
    fence: str | None = None
    for line in text.split("\n"):
        fence = fence_after(line, fence)
    return f"{text.rstrip()}\n{_marker(fence)}" if fence is not None else text


def _marker(fence: str) -> str:
    match = _FENCE.match(fence)
    return match.group(1) if match else "```"


def _rendered_size(lines: Sequence[tuple[str, str | None]]) -> int:
    body = sum(size(line) for line, _ in lines) + max(len(lines) - 1, 0)
    fence = lines[-1][1] if lines else None
    return body + (1 + len(_marker(fence)) if fence else 0)  # a newline and the closing marker


def _render(lines: Sequence[tuple[str, str | None]]) -> str:
    text = "\n".join(line for line, _ in lines).strip("\n")
    fence = lines[-1][1] if lines else None
    return text + "\n" + _marker(fence) if fence else text


def _only_header(lines: Sequence[tuple[str, str | None]]) -> bool:
    """True when nothing could be cut off: empty, or only a re-opened fence line."""
    return not lines or (len(lines) == 1 and lines[0][1] is not None and lines[0][0] == lines[0][1])


def _best_cut(lines: Sequence[tuple[str, str | None]], limit: int) -> int:
    """Where to end the current post: after the last blank line outside a code block in its
    second half, else after the last line that fits."""
    fits = 0
    for i in range(1, len(lines) + 1):
        if _rendered_size(lines[:i]) > limit:
            break
        fits = i
    fits = max(fits, 1)
    floor = limit // 2
    for i in range(fits, 0, -1):
        line, open_after = lines[i - 1]
        if not line.strip() and open_after is None and _rendered_size(lines[:i]) >= floor:
            return i
        if i < fits and _FENCE.match(line) and open_after is None and _rendered_size(lines[:i]) >= floor:
            return i  # right after a closed code block is a good place too
    return fits


def _hard_wrap(lines: list[str], width: int) -> list[str]:
    """Cut lines longer than `width` at a space when there is one in the second half."""
    out: list[str] = []
    for line in lines:
        rest = line
        while size(rest) > width:
            piece = _prefix(rest, width)
            space = piece.rfind(" ")
            if space > len(piece) // 2:
                piece = piece[: space + 1]
            out.append(piece.rstrip(" ") or piece)
            rest = rest[len(piece) :]
        out.append(rest)
    return out


def _prefix(text: str, units: int) -> str:
    count = 0
    for index, char in enumerate(text):
        count += 2 if ord(char) > 0xFFFF else 1
        if count > units:
            return text[:index]
    return text


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# Not __ (Python's __init__ is no bold), and not between ASCII letters or digits (2**3**4 is
# maths); beside Chinese it is bold, as Chinese has no spaces between words.
_STRONG = re.compile(r"(?<![A-Za-z0-9_*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![A-Za-z0-9_*])")
_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


def plain(text: str) -> str:
    """Markdown made readable where a platform shows text as it is (QQ): headings without their
    #, bold without its **, links as "text (address)". Code stays as it is, fences and
    `inline code` included, since code must stand apart and its characters mean something."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        after = fence_after(line, fence)
        if fence is None and after is None:
            parts = _HEADING.sub("", line).split("`")  # odd parts are inline code
            for n in range(0, len(parts), 2):
                parts[n] = _LINK.sub(r"\1 (\2)", _STRONG.sub(r"\1", parts[n]))
            out.append("`".join(parts))
        else:
            out.append(line)
        fence = after
    return "\n".join(out)


# What a title leaves out: quotes, headings, list and task markers at a line's start; a table's
# rule or a horizontal rule as a whole line; fences anywhere, since titles stored by older
# versions had the question's lines already joined ("# Title ```python print(1) ```").
_LINE_MARKS = re.compile(r"^\s*(?:>\s*|#{1,6}(?:\s+|$)|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,9}[.)]\s+)+")
_RULE = re.compile(r"^\s*(?:(?:[-*_]\s*){3,}|\|?(?:\s*:?-+:?\s*\|)+\s*:?-*:?\s*)$")
_ANY_FENCE = re.compile(r"(?:```+|~~~+)[\w+#.-]*")
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_EMPHASIS = re.compile(r"(?<![A-Za-z0-9*~])(\*{1,3}|~~)(?=\S)(.+?)(?<=\S)\1(?![A-Za-z0-9*~])")
# One underscore only, and not beside another: __init__ and snake_case are names, not emphasis.
_UNDERLINED = re.compile(r"(?<![A-Za-z0-9_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![A-Za-z0-9_])")


def title_of(text: str, limit: int) -> str:
    """A chat's title from its question: plain words on one line, at most `limit` characters.
    A title shows as text (the sidebar, the page's heading), where Markdown's marks would be
    noise: no heading #, fence, emphasis or link address. Code keeps its characters."""
    words: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        after = fence_after(line, fence)
        if fence is None and after is None and not _RULE.match(line):
            words += _unmarked(line).split()
        elif fence is not None and after is not None:  # inside a code block: as it is
            words += line.split()
        fence = after
    return " ".join(words)[:limit].rstrip()


def _unmarked(line: str) -> str:
    line = _LINE_MARKS.sub("", line)
    line = _IMAGE_OR_LINK.sub(r"\1", _ANY_FENCE.sub(" ", line)).replace("`", "")
    for _ in range(2):  # ***both*** and **_nested_** marks
        line = _UNDERLINED.sub(r"\1", _EMPHASIS.sub(r"\2", line))
    return line.replace("|", " ") if line.lstrip().startswith("|") else line  # a table's cells
