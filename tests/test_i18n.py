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
KEYWORDS = {"_": None, "__": None, "N_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def _source_msgids() -> set[str]:
    ids: set[str] = set()
    for package in ("bot", "handlers"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / folder_name(locale) / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=folder_name(locale))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    missing = sorted(m for m in _source_msgids() if m not in catalog or not catalog[m].string)
    assert not missing, f"{locale}: untranslated (run scripts/update-catalogs, then translate): {missing}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_placeholders_survive_translation(locale: str) -> None:
    catalog = _catalog(locale)
    for message in catalog:
        if message.id and message.string:
            assert set(re.findall(r"\{\w+\}", message.id)) == set(re.findall(r"\{\w+\}", message.string)), message.id
            assert re.findall(r"</?\w+>", message.id) == re.findall(r"</?\w+>", message.string), message.id


def test_traditional_is_not_simplified() -> None:
    hans, hant = _catalog("zh-Hans"), _catalog("zh-Hant")
    differing = sum(1 for m in hans if m.id and hant[m.id] and hant[m.id].string != m.string)
    assert differing > len([m for m in hans if m.id]) * 0.6


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
         "-k", "N_", "-k", "gettext", "-k", "lazy_gettext", "-k", "ngettext:1,2", "--no-location",
         "--sort-output", "--omit-header", "-o", str(out), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        committed = {m.id for m in read_po(fh) if m.id}
    assert fresh == committed
