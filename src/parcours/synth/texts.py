"""Verbatim templates (French and English), combined opener x topic phrase x detail x closer.

Each topic's phrases carry a marker word so tests (and readers) can tell the topic from the
text: delivery_late -> "retard" / "late", shipping_fees -> "frais de livraison" /
"shipping costs", account_forced -> "compte" / "account", checkout_long -> "trop long" /
"too long". Other topics avoid these markers.
"""

from __future__ import annotations

import numpy as np

SENTIMENTS = ("neg", "neu", "pos")

TOPICS = (
    "delivery_late", "shipping_fees", "account_forced", "checkout_long", "payment_issue",
    "price_inconsistency", "product_defect", "support_silo", "support_wait", "cancellation",
    "browsing", "product_pos", "delivery_pos", "store_pos", "app_pos", "price_pos", "service_pos", "general",
)
TOPIC = {t: i for i, t in enumerate(TOPICS)}
#: the touchpoint a verbatim of this topic is about
TOPIC_TOUCHPOINT = {
    "delivery_late": "delivery", "shipping_fees": "shipping_options", "account_forced": "account_form",
    "checkout_long": "checkout", "payment_issue": "payment_page", "price_inconsistency": "product_page",
    "product_defect": "product_page", "support_silo": "call_center", "support_wait": "call_center",
    "cancellation": "order_tracking", "product_pos": "product_page", "delivery_pos": "delivery",
    "store_pos": "store", "app_pos": "app_home", "price_pos": "product_page", "service_pos": "call_center",
    "general": "home", "browsing": "cart",
}

FR = {
    "openers": {
        "neg": ["Franchement déçu.", "Très mauvaise expérience.", "Je suis mécontent.", "Quelle déception.",
                "Ce n'est pas acceptable.", "Je ne suis pas satisfait du tout.", "Expérience pénible."],
        "neu": ["Dans l'ensemble, ça va.", "Expérience correcte.", "Rien d'extraordinaire.",
                "Avis mitigé.", "C'est moyen.", "Bof, sans plus."],
        "pos": ["Très bonne expérience !", "Je suis ravi.", "Excellent service.", "Parfait.",
                "Super expérience.", "Très satisfaite.", "Rien à redire."],
    },
    "phrases": {
        "delivery_late": ["La livraison est arrivée avec beaucoup de retard", "Mon colis a eu un retard de plusieurs jours",
                          "La commande est arrivée en retard", "Le retard de livraison n'a jamais été expliqué"],
        "shipping_fees": ["Les frais de livraison sont apparus seulement à la fin", "Des frais de livraison bien trop élevés",
                          "J'ai découvert les frais de livraison au moment de payer", "Les frais de livraison ont fait grimper la facture"],
        "account_forced": ["On m'a obligé à créer un compte pour commander", "Impossible de payer sans créer de compte",
                           "La création de compte obligatoire m'a agacé", "Je voulais juste commander sans compte"],
        "checkout_long": ["Le processus de commande est trop long", "Trop d'étapes, c'est trop long",
                          "Le tunnel de paiement est trop long", "Remplir tous ces formulaires, c'est trop long"],
        "payment_issue": ["Le paiement a échoué plusieurs fois", "Ma carte a été refusée sans raison",
                          "La page de paiement ne répondait plus", "Le paiement a planté"],
        "price_inconsistency": ["Le prix en magasin n'était pas le même que sur le site", "Deux prix différents pour le même article",
                                "Le prix affiché en ligne ne correspondait pas au magasin", "Le tarif changeait selon le canal"],
        "product_defect": ["Le produit est tombé en panne", "L'article reçu était défectueux",
                           "Le produit ne fonctionnait pas à la réception", "La qualité du produit laisse à désirer"],
        "support_silo": ["J'ai dû réexpliquer mon problème à chaque appel", "Personne ne connaissait mon dossier",
                         "Chaque conseiller me redemandait tout depuis le début", "Le service client ne se parle pas entre services"],
        "support_wait": ["L'attente au service client était interminable", "Personne ne répond au téléphone",
                         "Le conseiller était désagréable", "Le service client n'a pas résolu mon problème"],
        "cancellation": ["L'annulation de ma commande a été compliquée", "J'ai dû annuler ma commande",
                         "Le remboursement après annulation a pris du temps", "Annuler était un vrai parcours du combattant"],
        "browsing": ["Je voulais seulement comparer les prix", "Je n'étais pas encore décidé",
                     "Je gardais le panier pour plus tard", "Je préparais une liste d'idées cadeaux"],
        "product_pos": ["Le produit est de très bonne qualité", "L'article correspond parfaitement à la description",
                        "Produit conforme et solide", "Je suis content de mon achat"],
        "delivery_pos": ["La livraison a été rapide", "Colis reçu en avance", "Livré en parfait état et à l'heure",
                         "Le suivi du colis était clair"],
        "store_pos": ["L'accueil en magasin était chaleureux", "Le vendeur en boutique m'a bien conseillé",
                      "Le magasin est bien rangé", "Retrait en magasin simple et rapide"],
        "app_pos": ["L'application est pratique", "Commander sur l'appli est simple", "L'appli est fluide et claire",
                    "Le programme de fidélité dans l'appli est bien fait"],
        "price_pos": ["Les prix sont attractifs", "Bon rapport qualité-prix", "Les promotions valaient le coup",
                      "Prix honnêtes"],
        "service_pos": ["Le service client a été efficace", "Conseiller à l'écoute et réactif",
                        "Mon problème a été réglé rapidement", "Le support a été aimable"],
        "general": ["Le site est correct", "Le choix de produits est correct", "Commande passée sans souci particulier",
                    "Navigation classique sur le site"],
    },
    "details": {
        "delivery_late": ["alors qu'on m'avait promis 48 h.", "sans aucune information.", "pour un cadeau d'anniversaire.",
                          "et le suivi n'était pas à jour."],
        "shipping_fees": ["alors que rien n'était indiqué avant.", "pour un petit article.", "c'est presque le prix du produit.",
                          "j'ai failli abandonner."],
        "account_forced": ["je n'ai pas envie de donner mes données.", "sur mobile c'est pénible.",
                           "un achat invité serait bienvenu.", "encore un mot de passe à retenir."],
        "checkout_long": ["j'ai failli laisser tomber.", "sur téléphone c'est interminable.", "il faudrait simplifier.",
                          "les mêmes infos demandées deux fois."],
        "payment_issue": ["j'ai dû recommencer trois fois.", "sans message d'erreur clair.", "c'est inquiétant.",
                          "j'ai fini par payer ailleurs."],
        "price_inconsistency": ["ce n'est pas cohérent.", "on ne sait plus quel prix croire.", "j'ai payé plus cher en magasin.",
                                "c'est trompeur."],
        "product_defect": ["au bout de deux semaines.", "dès le premier jour.", "malgré le prix.", "et le SAV tarde."],
        "support_silo": ["trois appels pour la même chose.", "entre le chat et le téléphone, rien ne suit.",
                         "c'est épuisant.", "aucune continuité."],
        "support_wait": ["plus de 40 minutes d'attente.", "trois relances sans réponse.", "c'est décevant.",
                         "j'attends encore une réponse."],
        "cancellation": ["et personne ne m'a rappelé.", "il a fallu insister.", "c'était long.", "aucune explication."],
        "browsing": ["je reviendrai peut-être.", "rien de grave.", "j'ai encore hésité.", "on verra plus tard."],
        "product_pos": ["je recommande.", "conforme aux photos.", "bien emballé.", "mieux que prévu."],
        "delivery_pos": ["en deux jours seulement.", "bien protégé.", "livreur sympathique.", "dans les délais annoncés."],
        "store_pos": ["merci à l'équipe.", "j'y retournerai.", "service personnalisé.", "très professionnel."],
        "app_pos": ["tout est clair.", "paiement en deux clics.", "les points s'affichent bien.", "rapide."],
        "price_pos": ["surtout pendant les soldes.", "rien à dire.", "moins cher qu'ailleurs.", "bonne surprise."],
        "service_pos": ["merci encore.", "en un seul appel.", "très pro.", "réponse en moins d'une heure."],
        "general": ["sans plus.", "rien de particulier.", "comme ailleurs.", "à voir la prochaine fois."],
    },
    "closers": {
        "neg": ["Je ne recommanderai pas.", "Je vais aller voir la concurrence.", "Dommage.", "À améliorer d'urgence.",
                "Je suis déçu."],
        "neu": ["On verra la prochaine fois.", "Peut mieux faire.", "Correct.", "Sans plus.", ""],
        "pos": ["Je recommande !", "Merci !", "Je reviendrai.", "Bravo à l'équipe.", "Continuez ainsi."],
    },
}

EN = {
    "openers": {
        "neg": ["Really disappointed.", "Very bad experience.", "I am unhappy.", "What a letdown.",
                "This is not acceptable.", "Not satisfied at all.", "A painful experience."],
        "neu": ["Overall, it's fine.", "Decent experience.", "Nothing special.", "Mixed feelings.",
                "It's average.", "Meh, so-so."],
        "pos": ["Great experience!", "I am delighted.", "Excellent service.", "Perfect.", "Super experience.",
                "Very satisfied.", "Nothing to complain about."],
    },
    "phrases": {
        "delivery_late": ["The delivery came very late", "My parcel was late by several days",
                          "The order arrived late", "The late delivery was never explained"],
        "shipping_costs": [],
        "shipping_fees": ["The shipping costs only showed up at the very end", "Shipping costs far too high",
                          "I discovered the shipping costs when paying", "The shipping costs pushed the bill up"],
        "account_forced": ["I was forced to create an account to order", "No way to pay without creating an account",
                           "Mandatory account creation annoyed me", "I just wanted to order without an account"],
        "checkout_long": ["The ordering process is too long", "Too many steps, it's too long",
                          "The payment funnel is too long", "Filling in all these forms takes too long"],
        "payment_issue": ["The payment failed several times", "My card was declined for no reason",
                          "The payment page stopped responding", "The payment crashed"],
        "price_inconsistency": ["The store price was not the same as on the website", "Two different prices for the same item",
                                "The online price did not match the store", "The price changed depending on the channel"],
        "product_defect": ["The product broke down", "The item I received was faulty",
                           "The product did not work on arrival", "The product quality is poor"],
        "support_silo": ["I had to explain my problem again on every call", "Nobody knew my case",
                         "Each agent asked me everything from scratch", "Customer service departments do not talk to each other"],
        "support_wait": ["The wait at customer service was endless", "Nobody answers the phone",
                         "The agent was unpleasant", "Customer service did not solve my problem"],
        "cancellation": ["Cancelling my order was complicated", "I had to cancel my order",
                         "The refund after cancelling took a while", "Cancelling was an obstacle course"],
        "browsing": ["I only wanted to compare prices", "I had not made up my mind yet",
                     "I was keeping the basket for later", "I was putting together gift ideas"],
        "product_pos": ["The product is of very good quality", "The item matches the description perfectly",
                        "Solid product, as described", "I am happy with my purchase"],
        "delivery_pos": ["Delivery was fast", "Parcel received early", "Delivered in perfect condition and on time",
                         "Parcel tracking was clear"],
        "store_pos": ["The welcome in the store was warm", "The shop assistant gave good advice",
                      "The store is well organised", "Click and collect was quick and easy"],
        "app_pos": ["The app is handy", "Ordering in the app is simple", "The app is smooth and clear",
                    "The loyalty programme in the app is well done"],
        "price_pos": ["Prices are attractive", "Good value for money", "The promotions were worth it", "Fair prices"],
        "service_pos": ["Customer service was efficient", "The agent listened and reacted quickly",
                        "My problem was fixed quickly", "Support was friendly"],
        "general": ["The website is fine", "The product range is decent", "Order placed without any particular issue",
                    "Ordinary browsing on the site"],
    },
    "details": {
        "delivery_late": ["even though 48 hours were promised.", "without any information.", "for a birthday present.",
                          "and tracking was not up to date."],
        "shipping_fees": ["although nothing was shown before.", "for a small item.", "almost the price of the product.",
                          "I nearly gave up."],
        "account_forced": ["I do not want to hand over my data.", "on mobile it's a pain.", "guest checkout would be welcome.",
                           "yet another password to remember."],
        "checkout_long": ["I nearly gave up.", "on a phone it's endless.", "it should be simpler.",
                          "the same details asked twice."],
        "payment_issue": ["I had to start over three times.", "with no clear error message.", "that is worrying.",
                          "I ended up paying elsewhere."],
        "price_inconsistency": ["it is not consistent.", "you never know which price to trust.", "I paid more in the store.",
                                "it is misleading."],
        "product_defect": ["after two weeks.", "on the very first day.", "despite the price.", "and after-sales is slow."],
        "support_silo": ["three calls for the same thing.", "between chat and phone, nothing follows.", "it is exhausting.",
                         "no continuity at all."],
        "support_wait": ["over 40 minutes on hold.", "three reminders with no answer.", "that is disappointing.",
                         "still waiting for an answer."],
        "cancellation": ["and nobody called me back.", "I had to insist.", "it took ages.", "no explanation given."],
        "browsing": ["I may come back.", "no big deal.", "still hesitating.", "maybe another time."],
        "product_pos": ["I recommend it.", "just like the photos.", "well packaged.", "better than expected."],
        "delivery_pos": ["in only two days.", "well protected.", "friendly courier.", "within the announced time."],
        "store_pos": ["thanks to the team.", "I will go back.", "personal service.", "very professional."],
        "app_pos": ["everything is clear.", "payment in two taps.", "points are shown clearly.", "fast."],
        "price_pos": ["especially during the sales.", "nothing to say.", "cheaper than elsewhere.", "a nice surprise."],
        "service_pos": ["thanks again.", "in a single call.", "very professional.", "answer in under an hour."],
        "general": ["nothing more.", "nothing in particular.", "like anywhere else.", "we will see next time."],
    },
    "closers": {
        "neg": ["I will not recommend it.", "I am going to try a competitor.", "Too bad.", "Needs urgent improvement.",
                "I am disappointed."],
        "neu": ["We will see next time.", "Could do better.", "Fine.", "Nothing more.", ""],
        "pos": ["I recommend it!", "Thank you!", "I will be back.", "Well done to the team.", "Keep it up."],
    },
}
del EN["phrases"]["shipping_costs"]

LOCALES = {"fr": FR, "en": EN}
#: marker words per topic, per locale (documented; used by the tests)
MARKERS = {
    "fr": {"delivery_late": "retard", "shipping_fees": "frais de livraison", "account_forced": "compte",
           "checkout_long": "trop long"},
    "en": {"delivery_late": "late", "shipping_fees": "shipping costs", "account_forced": "account",
           "checkout_long": "too long"},
}


class Verbatims:
    """Vectorised text assembly for one locale."""

    def __init__(self, locale: str):
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale!r} (expected one of {sorted(LOCALES)})")
        src = LOCALES[locale]
        self.locale = locale
        self.openers = [np.array(src["openers"][s], dtype=object) for s in SENTIMENTS]
        self.closers = [np.array(src["closers"][s], dtype=object) for s in SENTIMENTS]
        self.phrases = [np.array(src["phrases"][t], dtype=object) for t in TOPICS]
        self.details = [np.array(src["details"][t], dtype=object) for t in TOPICS]

    def _pick(self, rng, tables, codes) -> np.ndarray:
        out = np.empty(len(codes), dtype=object)
        for c in np.unique(codes):
            m = codes == c
            arr = tables[c]
            out[m] = arr[rng.integers(0, len(arr), int(m.sum()))]
        return out

    def sentence(self, rng, topic: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
        """One text per row: opener, topic phrase + detail, closer."""
        n = len(topic)
        if n == 0:
            return np.empty(0, dtype=object)
        op = self._pick(rng, self.openers, sentiment)
        ph = self._pick(rng, self.phrases, topic)
        de = self._pick(rng, self.details, topic)
        cl = self._pick(rng, self.closers, sentiment)
        return np.array([f"{a} {b}, {c} {d}".strip() for a, b, c, d in zip(op, ph, de, cl)], dtype=object)

    def reasons(self, rng, reason_sets: list[list[int]]) -> np.ndarray:
        """Exit-survey texts naming one or several topics (cart abandonment reasons)."""
        n = len(reason_sets)
        neg_open, neg_close = self.openers[0], self.closers[0]
        neu_open, neu_close = self.openers[1], self.closers[1]
        # "just browsing" answers keep a neutral tone
        calm = np.array([list(t) == [TOPIC["browsing"]] for t in reason_sets], dtype=bool)
        out = np.where(calm, neu_open[rng.integers(0, len(neu_open), n)],
                       neg_open[rng.integers(0, len(neg_open), n)]).astype(object)
        width = max((len(t) for t in reason_sets), default=0)
        for k in range(width):
            rows = np.array([i for i, t in enumerate(reason_sets) if len(t) > k], dtype=np.int64)
            topics = np.array([reason_sets[i][k] for i in rows], dtype=np.int64)
            for t in np.unique(topics):
                sel = rows[topics == t]
                ph, de = self.phrases[t], self.details[t]
                out[sel] = (out[sel] + " " + ph[rng.integers(0, len(ph), len(sel))] + ", "
                            + de[rng.integers(0, len(de), len(sel))])
        close = np.where(calm, neu_close[rng.integers(0, len(neu_close), n)],
                         neg_close[rng.integers(0, len(neg_close), n)])
        return np.array([x.strip() for x in (out + " " + close)], dtype=object)
