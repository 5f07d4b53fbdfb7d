"""Every translatable string exists, translated, in all three catalogues."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES
from bot.i18n import LOCALES_DIR, create_i18n, folder_name

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "__": None, "N_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2),
            "pgettext": ((1, "c"), 2)}
# English words that mean two things in this bot: each use must say which (a message
# context, ``_.pgettext(context, word)``), so that each meaning gets its own translation.
# "missed": an appointment's no-show (爽约) or a target not met (未达标).
AMBIGUOUS = frozenset({"missed"})


def _extracted() -> list[tuple[str | tuple[str, ...], str | None, str]]:
    """(message, context, where) of every translatable string in the source; a count's
    message (ngettext) is its (singular, plural)."""
    found: list[tuple[str | tuple[str, ...], str | None, str]] = []
    for package in ("bot", "handlers"):
        for file, line, message, _comments, ctx in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.append((message if isinstance(message, str) else tuple(message), ctx, f"{package}/{file}:{line}"))
    return found


def _source_messages() -> list[tuple[str, str | None, str]]:
    """(msgid, context, where) of every translatable string in the source (a count's: its singular)."""
    return [(m if isinstance(m, str) else m[0], ctx, where) for m, ctx, where in _extracted()]


def _source_msgids() -> set[tuple[str, str | None]]:
    return {(m, ctx) for m, ctx, _where in _source_messages()}


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / folder_name(locale) / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=folder_name(locale))


def _forms(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """A catalogue entry's translations: one, or one per plural form."""
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    missing = sorted((m, ctx or "") for m, ctx in _source_msgids()
                     if catalog.get(m, context=ctx) is None or not all(_forms(catalog.get(m, context=ctx))))
    assert not missing, f"{locale}: untranslated (run scripts/update-catalogs, then translate): {missing}"


PLURAL_FORMS = {"zh-Hans": (1, "nplurals=1; plural=0;"), "zh-Hant": (1, "nplurals=1; plural=0;"),
                "en": (2, "nplurals=2; plural=(n != 1);")}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_counts_have_each_plural_form_of_the_language(locale: str) -> None:
    """Chinese has one form for every count, English two (1, and any other): the header
    says so, a count in the source (ngettext) is a plural entry in the catalogue, and
    each plural entry has exactly the language's forms, none of them empty."""
    catalog = _catalog(locale)
    nplurals, header = PLURAL_FORMS[locale]
    assert catalog.num_plurals == nplurals and catalog.plural_forms == header
    for message, ctx, where in _extracted():
        entry = catalog.get(message if isinstance(message, str) else message[0], context=ctx)
        assert entry is not None and entry.pluralizable == (not isinstance(message, str)), where
        if entry.pluralizable:
            assert entry.id == message, where
            assert len(entry.string) == nplurals and all(entry.string), where


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_placeholders_survive_translation(locale: str) -> None:
    catalog = _catalog(locale)
    for message in catalog:
        if not message.id or not all(_forms(message)):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids[1:] + _forms(message):  # a count's singular and plural, and every translation
            assert set(re.findall(r"\{\w+\}", ids[0])) == set(re.findall(r"\{\w+\}", text)), ids[0]
            assert re.findall(r"</?\w+>", ids[0]) == re.findall(r"</?\w+>", text), ids[0]


def test_traditional_is_not_simplified() -> None:
    hans, hant = _catalog("zh-Hans"), _catalog("zh-Hant")
    differing = sum(1 for m in hans if m.id and hant[m.id] and hant[m.id].string != m.string)
    assert differing > len([m for m in hans if m.id]) * 0.6


def test_traditional_quotes_with_corner_brackets() -> None:
    """Traditional Chinese quotes a button's name or someone's words 「like this」, as
    its readers write (Simplified keeps “”): a converter leaves the curly quotes."""
    curly = [m.id for m in _catalog("zh-Hant") if m.id and any("“" in s or "”" in s for s in _forms(m))]
    assert not curly, curly


def test_catalogues_load_through_aiogram_i18n() -> None:
    i18n = create_i18n("zh-Hans")
    assert i18n.gettext("Skip", locale="zh-Hans") == "跳过"
    assert i18n.gettext("Skip", locale="zh-Hant") == "跳過"
    assert i18n.gettext("Skip", locale="en") == "Skip"


def test_template_is_current(tmp_path: Path) -> None:
    """locales/messages.pot matches the source (scripts/update-catalogs was run)."""
    out = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_", "-k", "__",
         "-k", "N_", "-k", "gettext", "-k", "lazy_gettext", "-k", "ngettext:1,2", "-k", "pgettext:1c,2",
         "--no-location",
         "--sort-output", "--omit-header", "-o", str(out), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with out.open("rb") as fh:
        fresh = {(m.id, m.context) for m in read_po(fh) if m.id}
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        committed = {(m.id, m.context) for m in read_po(fh) if m.id}
    assert fresh == committed


def test_one_msgid_is_never_used_for_two_meanings() -> None:
    """A word the catalogue marks apart (it has a message context somewhere, or is a known
    ambiguous word) is never translated without saying which meaning; and its meanings
    really are translated apart in Chinese."""
    messages = _source_messages()
    marked = {m for m, ctx, _where in messages if ctx} | AMBIGUOUS
    bare = sorted(f"{where}: {m!r}" for m, ctx, where in messages if m in marked and ctx is None)
    assert not bare, f"one msgid for two meanings; use _.pgettext(context, ...): {bare}"
    hans = _catalog("zh-Hans")
    for word in AMBIGUOUS:
        contexts = {ctx for m, ctx, _where in messages if m == word}
        assert len(contexts) >= 2, f"{word!r}: its meanings, each with its context, are all in use"
        translations = {hans.get(word, context=ctx).string for ctx in contexts}
        assert len(translations) == len(contexts), f"{word!r} is translated the same in two meanings"


def test_message_contexts_reach_both_translators() -> None:
    """pgettext works for the services' translators and for the handlers' aiogram i18n."""
    from bot.i18n import current_translator, pgettext
    from bot.services.l10n import translator

    zh = translator("zh-Hans")
    assert zh.pgettext("appointment", "missed") == "爽约"
    assert zh.pgettext("target", "missed") == "未达标"
    i18n = create_i18n("zh-Hans")
    with i18n.context(), i18n.use_locale("zh-Hant"):
        assert pgettext("appointment", "missed") == "爽約"
        assert current_translator().pgettext("target", "missed") == "未達標"



# A count in each language, for 1 and for 2: English says "1 resident", "2 residents";
# Chinese has one form, the same words either way.  Whole texts, or a part that goes on
# past the noun (". Results", ". If"), so that "1 minute" is not found in "1 minutes".
SENT = ("✅ Sent to {n} resident. Results: 🗳 Consultations (the resident gets them when it closes).",
        "✅ Sent to {n} residents. Results: 🗳 Consultations (each resident gets them when it closes).")
COUNTS = {
    "en": {"sent": ("✅ Sent to 1 resident. Results", "✅ Sent to 2 residents. Results"),
           "days": ("1 day", "2 days"), "minutes": ("1 minute", "2 minutes"),
           "cooldown": ("again in 1 minute. If", "again in 2 minutes. If"),
           "interval": ("every 1 day", "every 2 days")},
    "zh-Hans": {"sent": ("✅ 已发给 1 位居民。", "✅ 已发给 2 位居民。"), "days": ("1天", "2天"),
                "minutes": ("1分钟", "2分钟"), "cooldown": ("1 分钟后才能再次标记", "2 分钟后才能再次标记"),
                "interval": ("每 1 天", "每 2 天")},
    "zh-Hant": {"sent": ("✅ 已發給 1 位居民。結果見「🗳 群眾議事」", "✅ 已發給 2 位居民。結果見「🗳 群眾議事」"),
                "days": ("1天", "2天"), "minutes": ("1分鐘", "2分鐘"),
                "cooldown": ("1 分鐘後才能再次標記", "2 分鐘後才能再次標記"), "interval": ("每 1 天", "每 2 天")},
}
WHOLE = {"days", "minutes", "interval"}  # the rest: a part of a longer text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_counts_read_right_in_each_language(locale: str) -> None:
    """Texts with a count, through the real catalogues: the handlers' aiogram i18n (a
    handler's text, a duration, an error's text) and the services' translator."""
    from bot.services.diary.texts import interval_label
    from bot.services.errors import Conflict
    from bot.services.l10n import translator
    from handlers.appointments.ui import duration
    from handlers.cases.ui import ERRORS
    from handlers.render import coded_text

    i18n = create_i18n("zh-Hans")
    for n in (1, 2):
        with i18n.context(), i18n.use_locale(locale):
            rendered = {
                "sent": i18n.gettext(*SENT, n=n).format(n=n),
                "days": duration(1440 * n),
                "minutes": duration(n),
                "cooldown": coded_text(Conflict("emergency_cooldown", number="A-1", minutes=n), ERRORS) or "",
            }
        rendered["interval"] = interval_label(translator(locale), n)
        for key, pair in COUNTS[locale].items():
            words = pair[n - 1]
            assert (rendered[key] == words) if key in WHOLE else (words in rendered[key]), (locale, n, rendered[key])
