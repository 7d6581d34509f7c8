"""Sentiment of customer verbatims in French and English, offline: a label and a score in [−1, 1].

Why VADER: a lexicon-and-rules model (Hutto and Gilbert, 2014) with negation, intensifiers
and punctuation emphasis, shipped with its lexicon inside the PyPI wheels (``vaderSentiment``
for English, ``vaderSentiment-fr`` for French), so nothing is downloaded at run time and the
result is explainable word by word. Customer-service verbatims use words a general lexicon
misses or gets wrong ("late", "en retard", "cher" meant as "expensive", not "dear"), so a
domain lexicon of our own is added on top, plus a few fixed phrases ("no problem", "rien à
redire") and contrast handling ("..., but ...": the clause after the contrast weighs more).

The score is VADER's compound score of the weighted clauses; ``positive`` at or above
``threshold`` (0.05 by default, VADER's own), ``negative`` at or below −threshold, else
``neutral``. Accuracy on the labelled set ``tests/data/verbatims_labelled.csv`` is printed by
``bench/bench_sentiment.py`` and reported in docs/feedback.md.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Sequence

from .text import fold, language_of

__all__ = ["Sentiment", "SentimentModel", "LABELS", "default_model", "score_texts"]

LABELS = ("negative", "neutral", "positive")

#: domain words, folded (no accents, lower case), on VADER's −4..4 scale.
DOMAIN_EN = {
    "late": -1.6, "later": 0.0, "delay": -1.4, "delays": -1.4, "delayed": -1.4, "lost": -1.5,
    "crashes": -1.8, "crashed": -1.8, "froze": -1.6, "freezes": -1.6, "bug": -1.5, "bugs": -1.5,
    "buggy": -1.8, "slow": -1.3, "overpriced": -2.0, "expensive": -1.2, "pricey": -0.8,
    "unavailable": -1.2, "sold": 0.0, "hidden": -1.0, "leaks": -1.5, "leaking": -1.5,
    "flimsy": -1.6, "condescending": -2.0, "locked": -1.0, "declined": -1.4, "refused": -1.4,
    "nightmare": -2.6, "unusable": -2.2, "dented": -1.0, "crushed": -1.6, "ripped": -1.6,
    "tight": -0.6, "missed": -1.0, "never": -0.6, "wasted": -1.8, "mess": -1.6, "sagged": -1.4,
    "scratched": -1.4, "charged": -0.3, "twice": -0.3, "timing": 0.0, "joke": -1.5,
    "fast": 1.6, "quick": 1.4, "quickly": 1.2, "smooth": 1.6, "spotless": 2.0, "patient": 1.5,
    "premium": 1.4, "legend": 2.0, "handy": 1.5, "reliable": 1.8, "seamless": 1.8,
    "intuitive": 1.6, "cheerful": 2.0, "sorted": 1.0, "worth": 1.2, "early": 0.8,
    "recommended": 1.5, "improvement": 1.4, "thx": 1.5, "realy": 0.0,
    # nouns of the trade a general lexicon reads as feelings ("support" as backing, "promised")
    "support": 0.0, "promised": 0.0, "polite": 1.8, "issue": -1.0, "issues": -1.0, "fix": 1.0,
    "fixed": 1.2, "nobody": -1.0, "unable": -1.2, "number": 0.0, "works": 0.8, "worked": 0.8, "unreachable": -1.6,
}
DOMAIN_FR = {
    # general words the French lexicon lacks or scores oddly ("cher": dear, not expensive)
    "cher": -1.2, "chere": -1.2, "chers": -1.2, "cheres": -1.2, "content": 1.8, "contents": 1.8,
    "decu": -2.0, "decue": -2.0, "decus": -2.0, "decues": -2.0, "decevant": -2.2, "decevante": -2.2,
    "horrible": -2.5, "parfait": 2.2, "parfaite": 2.2, "adore": 2.5, "adorent": 2.5, "adorable": 2.2,
    "genial": 2.0, "super": 1.8, "top": 1.8, "nul": -2.0, "nulle": -2.0, "nuls": -2.0,
    "satisfait": 1.8, "satisfaite": 1.8, "satisfaits": 1.8, "ravi": 2.2, "ravie": 2.2,
    "recommande": 1.6, "deconseille": -2.0, "defectueux": -2.0, "defectueuse": -2.0,
    "penible": -1.8, "horriblement": -2.0, "impeccable": 2.2, "aimable": 1.8, "charmant": 2.0,
    "charmante": 2.0, "serviable": 2.0, "patient": 1.5, "patiente": 1.5, "pratique": 1.4,
    "rapide": 1.6, "rapidement": 1.3, "vite": 1.2, "fluide": 1.6, "simple": 1.0, "simples": 1.0,
    "souriant": 1.8, "souriante": 1.8, "joyeux": 1.8, "solide": 1.4, "bravo": 1.0,
    # service words
    "retard": -1.8, "retards": -1.8, "perdu": -1.5, "abime": -1.9, "abimee": -1.9, "abimes": -1.9,
    "casse": -2.0, "cassee": -2.0, "brise": -1.9, "ecrase": -1.8, "plante": -1.6, "bug": -1.5,
    "bugue": -1.6, "lent": -1.3, "lente": -1.3, "refuse": -1.4, "refusee": -1.4, "rupture": -1.2,
    "indisponible": -1.2, "indisponibles": -1.2, "epuise": -1.0, "epuises": -1.0,
    "cauchemar": -2.6, "fuit": -1.5, "inadmissible": -2.6, "inacceptable": -2.6,
    "catastrophe": -2.6, "blague": -1.5, "bidon": -1.8, "arnaque": -2.6, "injuste": -1.8,
    "desordre": -1.5, "fragile": -1.0, "manquait": -1.0, "manque": -1.0, "affaisse": -1.4,
    "affaisses": -1.4, "gresille": -1.2, "debite": -0.3, "fige": -1.6,
    "figee": -1.6, "expirer": -0.8, "bloque": -1.2, "condescendant": -2.0, "ignores": -1.5,
    "ignore": -1.5, "jete": -1.2, "soigne": 1.6, "reactif": 2.0, "reactive": 2.0,
    "amelioration": 1.4, "doux": 1.2, "douce": 1.2, "plaisir": 2.0, "merci": 1.2, "vraiment": 0.0,
    "gentil": 2.0, "gentille": 2.0, "utile": 1.6, "clair": 1.4, "claire": 1.4, "haut": 0.0,
    "vraimant": 0.0, "qualitee": 0.6, "bien": 1.2, "mieux": 1.4, "tard": -0.6, "lache": -1.6,
    "decousues": -1.6, "souci": -1.2, "probleme": -1.2, "problemes": -1.2, "plainte": -1.2,
    "mauvais": -2.0, "mauvaise": -2.0, "incapable": -1.8, "inutile": -1.8, "vide": -0.8,
    "vides": -0.8, "faux": -1.2, "fausse": -1.2, "serre": -0.6, "erreur": -1.4,
    # "prix" is a price here, not a prize; a "réduction" is a discount, not a loss
    "prix": 0.0, "reduction": 0.0, "jamais": -1.0, "decalage": -1.0, "impossible": -1.5,
    "poli": 1.8, "polie": 1.8, "ouvert": 0.0, "ouverte": 0.0, "soldes": 0.0, "correct": 0.8,
    "correcte": 0.8, "corrects": 0.8, "correctes": 0.8, "fonctionne": 0.8, "injoignable": -1.8,
    "injoignables": -1.8,
}

#: fixed phrases (folded), replaced by a marker word of this valence before scoring.
PHRASES = {
    "en": {"no problem": 1.8, "not a single problem": 2.0, "no complaints": 1.8,
           "can't complain": 1.6, "cant complain": 1.6, "nothing to add": 1.2,
           "no questions asked": 1.6, "never had an issue": 1.8, "never had a problem": 1.8,
           "out of stock": -1.4, "sold out": -1.4, "never arrived": -2.2, "never came": -2.0,
           "never arrives": -2.0, "thanks for nothing": -2.4, "waste of money": -2.4,
           "not worth": -1.8, "value for money": 1.6, "worth every penny": 2.2,
           "falling apart": -2.0, "on hold": -1.0, "hung up": -1.6, "went above and beyond": 2.4,
           "made up for it": 1.4, "money back": 1.0, "nothing like": -1.4, "on time": 1.2,
           "nothing special": -0.3, "call dropped": -1.6, "stopped working": -2.0,
           "dead pixels": -1.8, "not impressed": -2.0, "couldn't be happier": 2.8,
           "nothing was there": -1.5, "back in stock": 1.4, "can't log in": -1.6, "cannot log in": -1.6,
           "help desk": 0.0, "solved my problem": 2.0, "still no": -1.2, "still waiting": -1.4,
           "too expensive": -1.8},
    "fr": {"aucun probleme": 1.8, "aucun souci": 1.8, "pas de souci": 1.6, "pas de probleme": 1.6,
           "rien a redire": 2.0, "rien a dire": 1.2, "rien a ajouter": 1.2, "aucune plainte": 1.8,
           "pas mal": 1.6, "jamais eu de souci": 1.8, "jamais eu de probleme": 1.8,
           "en retard": -1.8, "en rupture": -1.4, "pas arrive": -2.0, "jamais arrive": -2.2,
           "jamais arrivee": -2.2, "jamais venu": -2.0, "merci pour rien": -2.4,
           "par les fenetres": -2.4, "ne vaut pas": -1.8, "rapport qualite-prix": 1.2,
           "sans discussion": 1.2, "sans plus": -0.4, "bas de gamme": -1.8, "haut de gamme": 1.8,
           "ne sert a rien": -2.2, "raccroche au nez": -2.0, "ne marche plus": -2.0,
           "ne fonctionne pas": -2.0, "ne fonctionne plus": -2.0, "ne charge plus": -2.0,
           "pixels morts": -1.8, "rien a voir": -1.2, "a l'heure": 1.2, "s'est demene": 2.0,
           "au top": 2.2, "ca compense": 1.4, "pas convaincu": -1.8, "pas convaincue": -1.8,
           "faire mieux": 1.0, "n'importe quoi": -2.0, "s'en fichait": -2.0,
           "coup de coeur": 2.2, "plus cher": -1.4, "trop cher": -1.8, "le vaut": 1.6,
           "vaut le coup": 1.8, "rien recu": -1.8, "avis de passage": -1.2, "personne ne": -1.2,
           "personne n'a": -1.2, "personne pour": -1.0, "de nouveau disponible": 1.4,
           "regle mon probleme": 2.0, "resolu mon probleme": 2.0, "toujours pas": -1.2,
           "plus jamais": -2.0},
}

#: contrast words: the clause after one weighs ``CONTRAST_AFTER`` times the clause before it
#: (3, the ratio of VADER's own English "but" rule: ×0.5 before, ×1.5 after).
CONTRAST = {"en": ("but", "however", "yet"),
            "fr": ("mais", "cependant", "pourtant", "toutefois", "neanmoins", "par contre")}
CONTRAST_AFTER = 3.0

_MARK = {}  # valence -> marker word, filled by _marker


def _marker(valence: float) -> str:
    """A made-up word standing for a phrase, registered in both lexicons with its valence."""
    key = f"zzphrase{len(_MARK)}"
    return _MARK.setdefault(valence, key)


@dataclass(frozen=True)
class Sentiment:
    label: str
    score: float
    language: str

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "language": self.language}


@functools.lru_cache(maxsize=None)
def _analyzers():
    """Both VADER analysers with the domain lexicon, loaded once (the lexicons are in the wheels)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as English

    with warnings.catch_warnings():  # fuzzywuzzy warns about a slow matcher the French model does not use
        warnings.simplefilter("ignore")
        from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as French
    en, fr = English(), French()
    en.lexicon.update(DOMAIN_EN)
    fr.lexicon.update(DOMAIN_FR)
    for lang, table in PHRASES.items():
        for valence in table.values():
            (en if lang == "en" else fr).lexicon[_marker(valence)] = valence
    return {"en": en, "fr": fr}


@functools.lru_cache(maxsize=None)
def _phrase_pattern(lang: str) -> re.Pattern:
    """One pattern per language, longest phrases first so "not a single problem" beats "problem"."""
    phrases = sorted(PHRASES[lang], key=len, reverse=True)
    return re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, phrases)) + r")(?![a-z])")


def _phrases_to_markers(text: str, lang: str) -> str:
    table = PHRASES[lang]
    return _phrase_pattern(lang).sub(lambda m: f" {_marker(table[m.group(0)])} ", text)


def _clauses(text: str, lang: str) -> list[tuple[str, float]]:
    """The text cut at its last contrast word: (clause, weight) pairs."""
    pattern = r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in CONTRAST[lang]) + r")(?![a-z])"
    parts = re.split(pattern, text)
    if len(parts) < 2:
        return [(text, 1.0)]
    before, after = " ".join(parts[:-1]), parts[-1]
    return [(before, 1.0), (after, CONTRAST_AFTER)]


#: a trailing "... Not." / "... Ou pas." turns what came before around.
_SARCASM = re.compile(r"[.!,]\s*(?:not|ou pas|or not)\s*[.!]*\s*$")
#: segments end at punctuation, so a negation does not reach past a comma ("pas accepté, dommage").
_SEGMENT = re.compile(r"(?<=[,;.!?])\s+")
#: a question asks more than it judges: its score is damped.
QUESTION_DAMPING = 0.3


def _clause_score(analyzer, clause: str) -> float:
    """Mean compound score of the clause's segments that carry any sentiment (0 when none does)."""
    scores = []
    for seg in _SEGMENT.split(clause.strip()):
        if not seg.strip(" .,;!?"):
            continue
        c = analyzer.polarity_scores(seg)["compound"]
        if seg.rstrip().endswith("?"):
            c *= QUESTION_DAMPING
        if c:
            scores.append(c)
    return sum(scores) / len(scores) if scores else 0.0


def _lexicon_language(text: str) -> str:
    """When stop words do not tell: the language whose lexicon knows more of the words (fr on a tie)."""
    ws = fold(text).split()
    analyzers = _analyzers()
    en = sum(w.strip(".,;:!?") in analyzers["en"].lexicon for w in ws)
    fr = sum(w.strip(".,;:!?") in analyzers["fr"].lexicon for w in ws)
    return "en" if en > fr else "fr"


@functools.lru_cache(maxsize=65_536)
def _raw_score(text: str, lang: str) -> float:
    """The score of one text; cached because survey exports repeat the same answers a lot."""
    analyzer = _analyzers()[lang]
    folded = _phrases_to_markers(fold(text), lang)
    flip = bool(_SARCASM.search(folded))
    if flip:
        folded = _SARCASM.sub("", folded)
    total = weight = 0.0
    for clause, w in _clauses(folded, lang):
        if re.search(r"[a-z0-9]", clause):  # "... not arrived yet." leaves an empty last clause
            total += w * _clause_score(analyzer, clause)
            weight += w
    score = max(-1.0, min(1.0, total / weight)) if weight else 0.0
    return -score if flip else score


class SentimentModel:
    """Scores verbatims; ``threshold`` separates neutral from positive and negative."""

    def __init__(self, threshold: float = 0.05):
        self.threshold = threshold

    def score(self, text: str, language: str | None = None) -> Sentiment:
        lang = language_of(language, text, tie=_lexicon_language)
        score = _raw_score(text, lang)
        return Sentiment(self.label(score), score, lang)

    def label(self, score: float) -> str:
        if score >= self.threshold:
            return "positive"
        if score <= -self.threshold:
            return "negative"
        return "neutral"

    def __call__(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[float]:
        """The ``text_scores`` hook of :func:`parcours.analysis.feedback.feedback`."""
        return [self.score(t, lang).score for t, lang in zip(texts, languages)]


@functools.lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    return SentimentModel()


def score_texts(texts: Sequence[str], languages: Sequence[str | None]) -> list[float]:
    """Scores in [−1, 1] with the default model (the feedback analysis's default hook)."""
    return default_model()(texts, languages)
