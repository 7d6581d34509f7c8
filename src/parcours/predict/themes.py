"""Themes of customer verbatims (delivery, price, product quality, support, ...), French and English.

Why a keyword lexicon: the themes a customer-experience team tracks are few and named in
advance, the words customers use for them are few too, and a lexicon is offline, instant and
explainable (a theme is there because a word is). Matching ignores case, accents and plurals
(a trailing ``s`` or ``x``); a keyword ending in ``*`` matches any word it starts
(``livr*``: livraison, livré, livreur); a keyword of several words matches them in a row.
A verbatim can have several themes, or none.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

from .text import words

__all__ = ["THEMES", "Theme", "themes_of", "summarise_themes"]


@dataclass(frozen=True)
class Theme:
    id: str
    label_en: str
    label_fr: str
    keywords: tuple[str, ...]


THEMES: tuple[Theme, ...] = (
    Theme("delivery", "Delivery", "Livraison", (
        "livr*", "colis", "expedi*", "transporteur", "relais", "point relais", "carton", "emballage",
        "deliver*", "parcel", "package", "packaging", "shipping", "shipped", "dispatch*", "courier",
        "driver", "tracking", "suivi", "arrived", "arrive", "arrivee", "box", "pickup point",
        "delai", "creneau", "delivery slot", "retard", "late", "en avance", "reception", "recu",
        "postman", "facteur", "signed for", "receptionne", "hall", "lobby", "avis de passage")),
    Theme("price", "Price", "Prix", (
        "prix", "cher", "chere", "tarif*", "promo*", "reduction", "soldes", "frais", "cout*",
        "euro*", "bon marche", "price*", "expensive", "cheap*", "pricey", "overpriced", "discount",
        "fee", "fees", "cost*", "value for money", "worth", "waste of money", "sale", "paid for",
        "qualite-prix", "vaut", "argent")),
    Theme("product_quality", "Product quality", "Qualité du produit", (
        "qualit*", "produit", "appareil", "defectu*", "casse", "cassee", "brise", "abime", "panne",
        "fragile", "solide", "tissu", "matiere", "couleur", "finition*", "notice",
        "marche plus", "fonctionne", "durer", "quality", "product", "item", "defective",
        "faulty", "broke", "broken", "damaged", "flimsy", "solid", "fabric", "fit", "colour",
        "color", "device", "stopped working", "falling apart", "last", "battery", "batterie",
        "instructions", "screw*", "vis", "build", "plastic", "plastique", "zip", "fermeture",
        "leaks", "fuit", "premium", "haut de gamme", "bas de gamme", "decousu*", "sagged",
        "affaiss*", "smells", "ca sent", "dead pixels", "pixels morts", "does what it says",
        "conforme")),
    Theme("support", "Customer service", "Service client", (
        "service client", "sav", "support", "conseill*", "hotline", "chat", "chatbot", "assistance",
        "telephone", "appel*", "rappel", "raccroch*", "dossier", "customer service", "agent",
        "advisor", "help desk", "helpdesk", "on hold", "call back", "calls", "hung up", "case number", "answer*", "repond*", "reponse", "warranty", "garantie",
        "replacement", "remplacement", "service")),
    Theme("website_app", "Website and app", "Site et application", (
        "site", "site web", "appli*", "app", "apps", "website", "page", "recherche", "search",
        "bug*", "plant*", "crash*", "connect*", "log in", "login", "logs me out", "mise a jour",
        "update", "pop-up*", "fenetres", "navigation", "wishlist", "liste d'envies", "froze",
        "fige*", "checkout", "champ", "field", "formulaire", "form", "guide des tailles",
        "size guide", "online", "en ligne", "maintenance", "user friendly", "pratique")),
    Theme("payment", "Payment", "Paiement", (
        "paiement", "payer", "paye", "ma carte", "carte bancaire", "debit*", "virement", "paypal", "apple pay", "klarna",
        "alma", "3d secure", "facture", "payment", "pay", "paying", "my card", "credit card", "charged", "instalment*",
        "bank transfer", "invoice", "paiment", "payement", "plusieurs fois", "trois fois")),
    Theme("stock", "Stock and availability", "Stock et disponibilité", (
        "stock", "rupture", "disponib*", "indisponible*", "epuise*", "precommande", "mis de cote",
        "out of stock", "sold out", "available", "availability", "unavailable", "preorder",
        "reserved", "in my size", "ma taille")),
    Theme("returns", "Returns and refunds", "Retours et remboursements", (
        "retour*", "retourner", "renvoy*", "rembours*", "echange*", "reprendre", "bon d'achat",
        "return*", "refund*", "exchange*", "send back", "sent back", "sending the parcel back",
        "money back", "take it back", "voucher")),
    Theme("store_staff", "Store and staff", "Magasin et personnel", (
        "magasin", "boutique", "vendeu*", "caisse", "caissiere", "caissier", "personnel", "accueil",
        "vigile", "rayon", "comptoir", "responsable du magasin", "store", "shop", "staff",
        "sales assistant", "assistant", "cashier", "till", "seller", "shelf", "security guard",
        "queue", "file d'attente", "store manager", "counter", "click and collect",
        "retrait en magasin")),
    Theme("account", "Account", "Compte", (
        "compte", "inscription", "mot de passe", "identifiant", "account", "sign up", "signing up",
        "password", "register*")),
)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word[-1] in "sx" else word


@functools.lru_cache(maxsize=1)
def _compiled():
    """Per theme: (exact stems, prefixes, phrases as stem tuples)."""
    out = []
    for theme in THEMES:
        exact, prefixes, phrases = set(), [], []
        for kw in theme.keywords:
            ws = words(kw.rstrip("*"))
            if kw.endswith("*") and len(ws) == 1:
                prefixes.append(ws[0])
            elif len(ws) == 1:
                exact.add(_stem(ws[0]))
            else:
                phrases.append(tuple(_stem(w) for w in ws))
        out.append((theme.id, exact, tuple(prefixes), phrases))
    return out


def themes_of(text: str) -> list[str]:
    """The ids of the themes a verbatim mentions, in THEMES order."""
    return list(_themes_of(text or ""))


@functools.lru_cache(maxsize=65_536)
def _themes_of(text: str) -> tuple[str, ...]:
    raw = words(text)
    stems = [_stem(w) for w in raw]
    found = []
    for tid, exact, prefixes, phrases in _compiled():
        hit = any(s in exact for s in stems) or any(w.startswith(prefixes) for w in raw) if prefixes else \
            any(s in exact for s in stems)
        if not hit:
            hit = any(tuple(stems[i:i + len(p)]) == p for p in phrases for i in range(len(stems) - len(p) + 1))
        if hit:
            found.append(tid)
    return tuple(found)


def summarise_themes(texts: Sequence[str], scores: Sequence[float], labels: Sequence[str],
                     examples: int = 3) -> list[dict]:
    """Per theme: verbatims, share of all verbatims, mean sentiment, label counts, examples.

    Examples are the verbatims with the strongest sentiment on the theme's side (most negative
    when its mean is below zero, else most positive), ties by first seen.
    """
    n = len(texts)
    per: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for tid in themes_of(text):
            per.setdefault(tid, []).append(i)
    out = []
    for theme in THEMES:
        idx = per.get(theme.id)
        if not idx:
            continue
        mean = sum(scores[i] for i in idx) / len(idx)
        sign = -1 if mean < 0 else 1
        best = sorted(idx, key=lambda i: (-sign * scores[i], i))[:examples]
        out.append({
            "theme": theme.id, "label_en": theme.label_en, "label_fr": theme.label_fr,
            "verbatims": len(idx), "share": len(idx) / n, "sentiment": mean,
            **{k: sum(1 for i in idx if labels[i] == k) for k in ("negative", "neutral", "positive")},
            "examples": [{"text": texts[i], "score": scores[i]} for i in best],
        })
    out.sort(key=lambda t: (-t["verbatims"], t["theme"]))
    return out
