"""The languages a page can be translated into, found by ISO 639-1 code or by name."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from bookrag.errors import InvalidRequest

Direction = Literal["ltr", "rtl"]
DEFAULT_LANGUAGE = "ur"


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    name: str  # in English, as the prompt names it
    native: str
    direction: Direction = "ltr"
    aliases: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language("ur", "Urdu", "اردو", "rtl"),
    Language("ar", "Arabic", "العربية", "rtl"),
    Language("fa", "Persian", "فارسی", "rtl", ("farsi",)),
    Language("he", "Hebrew", "עברית", "rtl", ("iw",)),
    Language("ps", "Pashto", "پښتو", "rtl", ("pushto",)),
    Language("sd", "Sindhi", "سنڌي", "rtl"),
    Language("ug", "Uyghur", "ئۇيغۇرچە", "rtl", ("uighur",)),
    Language("yi", "Yiddish", "ייִדיש", "rtl"),
    Language("en", "English", "English"),
    Language("hi", "Hindi", "हिन्दी"),
    Language("bn", "Bengali", "বাংলা", aliases=("bangla",)),
    Language("pa", "Punjabi", "ਪੰਜਾਬੀ", aliases=("panjabi",)),
    Language("mr", "Marathi", "मराठी"),
    Language("gu", "Gujarati", "ગુજરાતી"),
    Language("ta", "Tamil", "தமிழ்"),
    Language("te", "Telugu", "తెలుగు"),
    Language("es", "Spanish", "Español", aliases=("castilian",)),
    Language("pt", "Portuguese", "Português"),
    Language("fr", "French", "Français"),
    Language("de", "German", "Deutsch"),
    Language("it", "Italian", "Italiano"),
    Language("nl", "Dutch", "Nederlands"),
    Language("sv", "Swedish", "Svenska"),
    Language("pl", "Polish", "Polski"),
    Language("uk", "Ukrainian", "Українська"),
    Language("ru", "Russian", "Русский"),
    Language("el", "Greek", "Ελληνικά"),
    Language("tr", "Turkish", "Türkçe"),
    Language("zh", "Chinese", "中文", aliases=("mandarin", "simplified chinese")),
    Language("ja", "Japanese", "日本語"),
    Language("ko", "Korean", "한국어"),
    Language("vi", "Vietnamese", "Tiếng Việt"),
    Language("th", "Thai", "ไทย"),
    Language("id", "Indonesian", "Bahasa Indonesia", aliases=("bahasa",)),
    Language("ms", "Malay", "Bahasa Melayu"),
    Language("tl", "Filipino", "Filipino", aliases=("tagalog", "fil")),
    Language("sw", "Swahili", "Kiswahili"),
)

_BY_KEY = {
    key.casefold(): language
    for language in LANGUAGES
    for key in (language.code, language.name, language.native, *language.aliases)
}
_REGION = re.compile(r"^([a-z]{2,3})[-_][a-z0-9]{2,4}$")  # ur-PK, pt_BR, zh-Hans
_EXAMPLES = "urdu, ur, arabic, es, French"


_SAME_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK"}  # Japanese writes all three
MIN_LETTERS = 40  # fewer letters of prose than this say little about the language
MIN_SHARE = 0.3  # of a reply's letters in the language's script (names, terms stay Latin)


def _script(ch: str) -> str:
    words = unicodedata.name(ch, "").split()
    return _SAME_SCRIPT.get(words[0], words[0]) if words else ""


def written_in(text: str, language: Language) -> bool:
    """Whether `text` may be written in `language`: a share of its letters are in the
    language's script. True for a language written in Latin letters (its script tells it
    from no other), or for too few letters to tell."""
    script = Counter(_script(ch) for ch in language.native if ch.isalpha()).most_common(1)
    if not script or script[0][0] == "LATIN":
        return True
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return True
    return sum(_script(ch) == script[0][0] for ch in letters) >= MIN_SHARE * len(letters)


def find_language(wanted: str | None) -> Language:
    """The language named by an ISO 639-1 code, an English or native name (any case), or a
    code with a region (`pt-BR`); Urdu when none is given."""
    key = " ".join((wanted or DEFAULT_LANGUAGE).split()).casefold()
    found = _BY_KEY.get(key or DEFAULT_LANGUAGE)
    region = _REGION.match(key)
    if found is None and region:
        found = _BY_KEY.get(region.group(1))
    if found is None:
        raise InvalidRequest(
            f"target_language: unknown language {wanted!r}; give an ISO 639-1 code or an "
            f"English name, e.g. {_EXAMPLES} (GET /translate/languages lists all "
            f"{len(LANGUAGES)})"
        )
    return found


def language_table() -> list[dict[str, str]]:
    """Every language, as `GET /translate/languages` lists them."""
    return [
        {"code": x.code, "name": x.name, "native": x.native, "direction": x.direction}
        for x in LANGUAGES
    ]
