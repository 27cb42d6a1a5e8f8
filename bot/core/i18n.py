"""Languages: which ones the bot speaks, and their gettext catalogs.

The catalogs are standard gettext ``.po`` files under ``bot/locales``; Babel reads them (no
compile step to forget), and the lookups go through the standard library's ``gettext``.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.core.bounded import LRU

LOCALES = Path(__file__).parents[1] / "locales"
DEFAULT = "en"
LANGUAGES = ("en", "zh-CN")  # Discord's locale names
_CATALOG_NAMES = {"zh-CN": "zh_CN"}
LOCALES_KEPT = 50_000  # people whose locale is remembered (KnownLocales)


def language_of(locale: str | None) -> str:
    """The supported language for a Discord locale; English for the rest."""
    if locale and str(locale) in LANGUAGES:
        return str(locale)
    return DEFAULT


def catalog_path(language: str) -> Path:
    return LOCALES / _CATALOG_NAMES.get(language, language) / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    path = catalog_path(language)
    if language == DEFAULT or not path.is_file():
        return gettext.NullTranslations()  # English is the source text
    with path.open("rb") as po:
        catalog = read_po(po, locale=_CATALOG_NAMES.get(language, language))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(language: str) -> Callable[[str], str]:
    return translations(language).gettext


class KnownLocales:
    """The Discord locale each person last used with the bot (from their interactions), to
    answer their messages in their language. Bounded: at most ``capacity`` people (about 5 MB),
    the least recently seen forgotten first (they get the server's language until they use a
    command again)."""

    def __init__(self, capacity: int = LOCALES_KEPT) -> None:
        self.capacity = capacity
        self._locales: LRU[int, str] = LRU(capacity)

    def remember(self, user_id: int, locale: str) -> None:
        self._locales[user_id] = locale

    def get(self, user_id: int) -> str | None:
        return self._locales.touch(user_id)

    def __len__(self) -> int:
        return len(self._locales)
