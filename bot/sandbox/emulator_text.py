"""Text formatting for the Bot API emulator: HTML / MarkdownV2 / Markdown parsing.

The parsers turn a formatted string into ``(plain_text, entities)`` the way the Bot API
does: entity offsets and lengths are counted in UTF-16 code units, empty entities are
dropped, and leading/trailing whitespace of the result is trimmed (entities are shifted
and clipped accordingly).  Malformed input raises :class:`EntityParseError` whose message
follows Telegram's ``can't parse entities: ...`` wording, so the emulator can answer
``400 Bad Request: can't parse entities: <message>``.

HTML follows the tags documented for the Bot API (``b strong i em u ins s strike del code
pre a tg-spoiler span.tg-spoiler blockquote tg-emoji``) and the named entities ``&lt; &gt;
&amp; &quot;`` plus numeric ones.  MarkdownV2 is implemented with its reserved-character
rule (the most common real-world failure); legacy Markdown is parsed loosely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENTITY_TYPES",
    "EntityParseError",
    "format_text",
    "normalize_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "trim_text",
    "utf16_len",
]

ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


class EntityParseError(ValueError):
    """Formatted text could not be parsed; ``str(err)`` is Telegram's reason text."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Bot API entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


@dataclass
class _Builder:
    """Accumulates plain text and tracks the UTF-16 position."""

    parts: list[str] = field(default_factory=list)
    pos: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.pos += utf16_len(text)

    def add(self, etype: str, start: int, **extra: Any) -> None:
        length = self.pos - start
        if length <= 0:
            return
        entity: dict[str, Any] = {"type": etype, "offset": start, "length": length}
        entity.update({k: v for k, v in extra.items() if v is not None})
        self.entities.append(entity)

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        text = "".join(self.parts)
        ents = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return trim_text(text, ents)


def trim_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, [dict(e) for e in entities]
    left = utf16_len(text[: len(text) - len(text.lstrip())])
    new_len = utf16_len(stripped)
    result: list[dict[str, Any]] = []
    for ent in entities:
        start = max(ent["offset"] - left, 0)
        end = min(ent["offset"] + ent["length"] - left, new_len)
        if end > start:
            fixed = dict(ent)
            fixed["offset"], fixed["length"] = start, end - start
            result.append(fixed)
    return stripped, result


# --------------------------------------------------------------------------- HTML

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{1,10});")


def _decode_entity(src: str, index: int) -> tuple[str | None, int]:
    """Decode an HTML character reference at ``index``; ``(None, 0)`` if there is none."""
    m = _ENTITY_RE.match(src, index)
    if not m:
        return None, 0
    body = m.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, 0
        return chr(code), m.end() - index
    value = _NAMED_ENTITIES.get(body.lower())
    if value is None:
        return None, 0
    return value, m.end() - index


def _unescape_attr(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, consumed = _decode_entity(value, i)
            if decoded is not None:
                out.append(decoded)
                i += consumed
                continue
        out.append(value[i])
        i += 1
    return "".join(out)


@dataclass
class _OpenTag:
    name: str
    start: int
    attrs: dict[str, str]
    language: str | None = None


def _parse_attrs(src: str, j: int, tag: str, tag_off: int) -> tuple[dict[str, str], int]:
    """Parse attributes from ``src[j:]`` up to ``>``; return (attrs, index after '>')."""
    attrs: dict[str, str] = {}
    n = len(src)
    while True:
        while j < n and src[j] in " \t\r\n":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_off}")
        if src[j] == ">":
            return attrs, j + 1
        if src[j] == "/" and j + 1 < n and src[j + 1] == ">":
            raise EntityParseError(f'Unsupported self-closing tag "{tag}" at byte offset {tag_off}')
        k = j
        while k < n and (src[k].isascii() and (src[k].isalnum() or src[k] in "-_")):
            k += 1
        name = src[j:k].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {tag_off}'
            )
        while k < n and src[k] in " \t\r\n":
            k += 1
        if k >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_off}")
        if src[k] != "=":
            if src[k] in ">/" or src[k].isalpha():
                attrs[name] = ""  # boolean attribute, e.g. <blockquote expandable>
                j = k
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {tag_off}"
            )
        k += 1
        while k < n and src[k] in " \t\r\n":
            k += 1
        if k < n and src[k] in "\"'":
            quote = src[k]
            end = src.find(quote, k + 1)
            if end < 0:
                raise EntityParseError(
                    f'Unclosed end of attribute value of the tag "{tag}" at byte offset {tag_off}'
                )
            value = src[k + 1 : end]
            j = end + 1
        else:
            end = k
            while end < n and src[end] not in " \t\r\n>":
                end += 1
            value = src[k:end]
            j = end
        attrs[name] = _unescape_attr(value)


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into ``(text, entities)``; raise :class:`EntityParseError`."""
    out = _Builder()
    stack: list[_OpenTag] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "&":
            decoded, consumed = _decode_entity(src, i)
            if decoded is None:
                out.emit("&")
                i += 1
            else:
                out.emit(decoded)
                i += consumed
            continue
        if ch != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            out.emit(src[i:j])
            i = j
            continue
        off = _byte_offset(src, i)
        if i + 1 < n and src[i + 1] == "/":
            end = src.find(">", i + 2)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {off}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {off}")
            top = stack.pop()
            if name != top.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {off}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, top, stack)
            i = end + 1
            continue
        j = i + 1
        while j < n and src[j].isascii() and (src[j].isalnum() or src[j] == "-"):
            j += 1
        name = src[i + 1 : j].lower()
        if not name:
            raise EntityParseError(f"Empty tag name at byte offset {off}")
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {off}')
        attrs, i = _parse_attrs(src, j, name, off)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {off}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {off}'
            )
        stack.append(_OpenTag(name=name, start=out.pos, attrs=attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _close_html_tag(out: _Builder, tag: _OpenTag, stack: list[_OpenTag]) -> None:
    etype = _HTML_TAGS[tag.name]
    if tag.name == "a":
        href = tag.attrs.get("href", "").strip()
        if href:
            out.add("text_link", tag.start, url=href)
        return
    if tag.name == "code":
        cls = tag.attrs.get("class", "")
        parent = stack[-1] if stack else None
        if parent is not None and parent.name == "pre" and cls.startswith("language-"):
            parent.language = cls[len("language-") :] or None
            return
        out.add("code", tag.start)
        return
    if tag.name == "pre":
        out.add("pre", tag.start, language=tag.language)
        return
    if tag.name == "blockquote":
        out.add("expandable_blockquote" if "expandable" in tag.attrs else "blockquote", tag.start)
        return
    if tag.name == "tg-emoji":
        out.add("custom_emoji", tag.start, custom_emoji_id=tag.attrs.get("emoji-id"))
        return
    out.add(etype, tag.start)


# ---------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}
_MDV2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


@dataclass
class _MdOpen:
    marker: str
    etype: str
    start: int
    byte_off: int


def _scan_until(src: str, i: int, stop: str) -> tuple[str, int] | None:
    """Read ``src[i:]`` up to an unescaped ``stop``; backslash escapes any character."""
    buf: list[str] = []
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            buf.append(src[i + 1])
            i += 2
            continue
        if src.startswith(stop, i):
            return "".join(buf), i + len(stop)
        buf.append(c)
        i += 1
    return None


def parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 into ``(text, entities)``; unescaped reserved characters fail."""
    out = _Builder()
    stack: list[_MdOpen] = []
    quote_start: int | None = None
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        at_line_start = i == 0 or src[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n and 1 <= ord(src[i + 1]) <= 126:
                out.emit(src[i + 1])
                i += 2
            else:
                out.emit(c)
                i += 1
            continue
        if at_line_start and c == ">":
            if quote_start is None:
                quote_start = out.pos
            i += 1
            continue
        if c == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            out.add("blockquote", quote_start)
            quote_start = None
        if c == "`":
            off = _byte_offset(src, i)
            if src.startswith("```", i):
                scanned = _scan_until(src, i + 3, "```")
                if scanned is None:
                    raise EntityParseError(f"Can't find end of Pre entity at byte offset {off}")
                body, i = scanned
                language: str | None = None
                first, sep, rest = body.partition("\n")
                if sep and first and not any(ch.isspace() for ch in first):
                    language, body = first, rest
                start = out.pos
                out.emit(body)
                out.add("pre", start, language=language)
            else:
                scanned = _scan_until(src, i + 1, "`")
                if scanned is None:
                    raise EntityParseError(f"Can't find end of Code entity at byte offset {off}")
                body, i = scanned
                start = out.pos
                out.emit(body)
                out.add("code", start)
            continue
        if c == "[":
            stack.append(_MdOpen("[", "text_link", out.pos, _byte_offset(src, i)))
            i += 1
            continue
        if c == "]" and stack and stack[-1].marker == "[":
            opened = stack.pop()
            i += 1
            if i < n and src[i] == "(":
                scanned = _scan_until(src, i + 1, ")")
                if scanned is None:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, i)}"
                    )
                url, i = scanned
                if url.strip():
                    out.add("text_link", opened.start, url=url.strip())
            continue
        marker = ""
        if c == "_":
            marker = "__" if src.startswith("__", i) else "_"
        elif c == "|" and src.startswith("||", i):
            marker = "||"
        elif c in "*~":
            marker = c
        if marker:
            if stack and stack[-1].marker == marker:
                opened = stack.pop()
                out.add(opened.etype, opened.start)
            else:
                stack.append(_MdOpen(marker, _MDV2_MARKERS[marker], out.pos, _byte_offset(src, i)))
            i += len(marker)
            continue
        if c in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.emit(c)
        i += 1
    if quote_start is not None:
        out.add("blockquote", quote_start)
    if stack:
        opened = stack[-1]
        name = _MDV2_NAMES.get(opened.etype, "the")
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {opened.byte_off}")
    return out.result()


# ------------------------------------------------------------------ legacy Markdown

_MD_MARKERS = {"*": "bold", "_": "italic"}


def parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown (``*bold* _italic_ `code` ```pre``` [text](url)``), loosely."""
    out = _Builder()
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        off = _byte_offset(src, i)
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.emit(src[i + 1])
            i += 2
            continue
        if c in _MD_MARKERS or c == "`":
            stop = "```" if src.startswith("```", i) else c
            end = src.find(stop, i + len(stop))
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {off}"
                )
            body = src[i + len(stop) : end]
            start = out.pos
            language: str | None = None
            if stop == "```":
                first, sep, rest = body.partition("\n")
                if sep and first and " " not in first:
                    language, body = first, rest
            out.emit(body)
            etype = "pre" if stop == "```" else ("code" if c == "`" else _MD_MARKERS[c])
            out.add(etype, start, language=language)
            i = end + len(stop)
            continue
        if c == "[":
            close = src.find("](", i + 1)
            end = src.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {off}"
                )
            start = out.pos
            out.emit(src[i + 1 : close])
            out.add("text_link", start, url=src[close + 2 : end].strip() or None)
            i = end + 1
            continue
        out.emit(c)
        i += 1
    return out.result()


# ----------------------------------------------------------------------- dispatcher


def normalize_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Validate an explicit ``entities`` array, clip it to ``text`` and sort it."""
    if not isinstance(entities, list):
        raise EntityParseError("entities must be an array")
    length = utf16_len(text)
    result: list[dict[str, Any]] = []
    for raw in entities:
        if not isinstance(raw, dict):
            raise EntityParseError("entity must be an object")
        etype = raw.get("type")
        offset, size = raw.get("offset"), raw.get("length")
        if etype not in ENTITY_TYPES:
            raise EntityParseError(f'unsupported entity type "{etype}"')
        if not isinstance(offset, int) or not isinstance(size, int) or offset < 0:
            raise EntityParseError("entity offset and length must be non-negative integers")
        end = min(offset + size, length)
        if end <= offset:
            continue
        ent = dict(raw)
        ent["length"] = end - offset
        result.append(ent)
    return sorted(result, key=lambda e: (e["offset"], -e["length"]))


def format_text(
    text: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """Apply ``entities`` or ``parse_mode`` (``HTML``/``MarkdownV2``/``Markdown``) to text.

    Raises :class:`EntityParseError` for malformed markup and :class:`ValueError`
    (``"unsupported parse_mode"``) for an unknown mode.
    """
    if entities is not None:
        return trim_text(text, normalize_entities(text, entities))
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return trim_text(text, [])
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise ValueError("unsupported parse_mode")
