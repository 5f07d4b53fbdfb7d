"""Unit tests of the emulator's HTML / MarkdownV2 / Markdown entity parsers."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator_text import (
    EntityParseError,
    format_text,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)


def spans(entities: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(e["type"], e["offset"], e["length"]) for e in entities]


def test_html_all_supported_tags() -> None:
    text, ents = parse_html(
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><code>c</code><pre>p</pre><tg-spoiler>t</tg-spoiler>"
        '<span class="tg-spoiler">x</span><blockquote>q</blockquote>'
        '<a href="https://t.me/x">a</a>'
    )
    assert text == "bsieunskdcptxqa"
    assert [e["type"] for e in ents] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "code",
        "pre",
        "spoiler",
        "spoiler",
        "blockquote",
        "text_link",
    ]


def test_html_nesting_offsets_are_utf16() -> None:
    text, ents = parse_html("👍<b>粗<i>斜</i></b>")
    assert text == "👍粗斜"
    assert utf16_len("👍") == 2
    assert spans(ents) == [("bold", 2, 2), ("italic", 3, 1)]


def test_html_pre_with_language_and_entities() -> None:
    text, ents = parse_html('<pre><code class="language-python">x = 1 &amp;&amp; 2</code></pre>')
    assert text == "x = 1 && 2"
    assert ents == [{"type": "pre", "offset": 0, "length": 10, "language": "python"}]
    assert parse_html("&#22909; &#x597D; &unknown; &amp")[0] == "好 好 &unknown; &amp"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("1 < 2", "Empty tag name at byte offset 2"),
        ("<br/>", 'Unsupported start tag "br" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("网<foo>", 'Unsupported start tag "foo" at byte offset 3'),
    ],
)
def test_html_errors(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as err:
        parse_html(source)
    assert str(err.value) == reason


def test_trimming_shifts_entities() -> None:
    text, ents = parse_html("\n  <b>hi</b>  ")
    assert text == "hi" and spans(ents) == [("bold", 0, 2)]


def test_markdown_v2() -> None:
    text, ents = parse_markdown_v2(
        "*b* _i_ __u__ ~s~ ||sp|| `c` [l](https://x.org/a\\)b) \\*lit\\*\n```py\nprint()\n```"
    )
    assert text == "b i u s sp c l *lit*\nprint()"
    assert [e["type"] for e in ents] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
        "pre",
    ]
    assert ents[6]["url"] == "https://x.org/a)b"
    assert ents[7]["language"] == "py"
    with pytest.raises(EntityParseError, match="Character '.' is reserved"):
        parse_markdown_v2("v1.2")
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity at byte offset 0"):
        parse_markdown_v2("*open")
    quote_text, quote = parse_markdown_v2(">引用\n>第二行\n正文")
    assert quote_text == "引用\n第二行\n正文" and spans(quote) == [("blockquote", 0, 6)]


def test_legacy_markdown_and_dispatch() -> None:
    assert parse_markdown("*b* _i_ `c` [t](https://x.org)")[0] == "b i c t"
    with pytest.raises(EntityParseError, match="Can't find end of the entity"):
        parse_markdown("*open")
    assert format_text("plain <b>", None) == ("plain <b>", [])
    assert format_text("x", "html") == ("x", [])
    explicit = [{"type": "bold", "offset": 0, "length": 99}]
    assert format_text("abc", "HTML", explicit) == (
        "abc",
        [{"type": "bold", "offset": 0, "length": 3}],
    )
    with pytest.raises(ValueError, match="unsupported parse_mode"):
        format_text("x", "rst")
