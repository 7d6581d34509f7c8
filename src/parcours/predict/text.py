"""Text helpers shared by sentiment and themes: accent/case folding, words, a language guess.

The language guess is a stop-word count (French vs English) because verbatims are short and
usually come with the feedback's ``language`` column; a heavier detector would add a
dependency for little gain on two languages.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "words", "detect_language", "LANGUAGES"]

LANGUAGES = ("fr", "en")

_WORD = re.compile(r"[a-z0-9]+")

_FR = frozenset("""le la les un une des du de au aux et est sont pas ne n ni je j me m mon ma mes tu te ton
ta tes il elle on nous vous ils elles leur leurs ce cet cette ces c ca qu que qui quoi dans pour par sur
avec sans tres trop plus moins mais ou donc car tout tous toute toutes rien jamais encore deja aussi
bien ete etait avoir avait fait faut y a l d s chez depuis apres avant comme quand meme alors""".split())
_EN = frozenset("""the a an and is are was were be been not no nor i me my mine you your he she it its we
our they them their this that these those of to in on at for with without very too more less but or so
all nothing never again already also well have has had do does did don t s can can't cannot will would
there here from after before as when what which who how just only still""".split())


def fold(text: str) -> str:
    """Lower case without accents: ``"Livré à l'Hôtel"`` -> ``"livre a l'hotel"``."""
    nfkd = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in nfkd if not unicodedata.combining(c)).replace("œ", "oe").replace("æ", "ae")


def words(text: str) -> list[str]:
    """The folded words of a text (apostrophes and punctuation split words)."""
    return _WORD.findall(fold(text))


def detect_language(text: str, default: str = "fr") -> str:
    """``fr`` or ``en`` from stop words (accented letters count for French); ``default`` on a tie."""
    ws = words(text)
    fr = sum(w in _FR for w in ws) + 2 * sum(c in "éèêàçùûôîœ" for c in text.lower())
    en = sum(w in _EN for w in ws)
    if fr == en:
        return default
    return "fr" if fr > en else "en"


def language_of(value: str | None, text: str, tie=None) -> str:
    """The feedback's language column when it names fr or en (``fr-FR`` too), else a guess;
    ``tie(text)`` decides when the stop words do not (default: fr)."""
    if value:
        code = value.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    guess = detect_language(text, default="")
    return guess or (tie(text) if tie else "fr")
