"""The catalogue of actions per stage (DOMAIN.md section 6), in French and English.

Why a module and not free text: a pain point's recommended actions are picked from this
catalogue by the friction's kind and stage, so every recommendation traces back to the
seeds' list and reads the same in both languages.
"""

from __future__ import annotations

#: stage -> action id -> (fr, en), in the order of DOMAIN.md section 6.
CATALOGUE: dict[str, dict[str, tuple[str, str]]] = {
    "awareness": {
        "target_channels": ("Cibler les canaux préférés des prospects", "Target the prospects' preferred channels"),
        "educational_content": ("Publier du contenu éducatif", "Publish educational content"),
        "seo_sea": ("Travailler le SEO/SEA", "Work on SEO/SEA"),
        "social_ads": ("Ajuster les publicités sociales", "Adjust the social ads"),
        "interactive_content": ("Proposer du contenu interactif (quiz, calculateurs)", "Offer interactive content (quizzes, calculators)"),
        "no_aggressive_selling": ("Éviter la vente agressive", "Avoid aggressive selling"),
    },
    "consideration": {
        "comparisons": ("Proposer des comparatifs", "Offer comparisons"),
        "testimonials": ("Montrer témoignages et études de cas", "Show testimonials and case studies"),
        "webinars_demos": ("Organiser webinaires et démonstrations", "Run webinars and demos"),
        "guides": ("Proposer des guides téléchargeables", "Offer downloadable guides"),
        "reputation": ("Gérer activement les avis et la réputation", "Manage reviews and reputation actively"),
    },
    "purchase": {
        "urgent_offers": ("Offres spéciales avec urgence", "Special offers with urgency"),
        "guarantees": ("Garanties et politique de remboursement claires", "Clear guarantees and refund policy"),
        "live_chat": ("Chat en direct", "Live chat"),
        "free_trial": ("Essai gratuit", "Free trial"),
        "simple_payment": ("Paiement simple et sécurisé", "Simple and secure payment"),
        "guest_checkout": ("Commande sans création de compte", "Guest checkout"),
        "flexible_delivery": ("Livraison flexible", "Flexible delivery"),
        "fees_early": ("Afficher prix et frais dès le début", "Show prices and fees early"),
        "cart_reminders": ("Relances de panier abandonné", "Abandoned-cart reminders"),
    },
    "reception": {
        "delivery_updates": ("Informer proactivement de la livraison", "Proactive delivery updates"),
        "installation_content": ("Contenus d'installation simples", "Simple installation content"),
        "availability": ("Disponibilité", "Availability"),
    },
    "evaluation": {
        "collect_verbatims": ("Recueillir les verbatims à chaud et à froid (enquêtes, e-mail, SMS)",
                              "Collect verbatims hot and cold (surveys, e-mail, SMS)"),
        "watch_reviews": ("Surveiller les avis spontanés", "Watch spontaneous reviews"),
    },
    "after_sales": {
        "anticipate": ("Anticiper les scénarios (livraison, panne, réclamation, remboursement)",
                       "Anticipate scenarios (delivery problem, malfunction, complaint, refund)"),
        "self_service_or_human": ("Laisser choisir entre libre-service et conseiller",
                                  "Let the customer choose self-service or a human"),
        "empathy": ("Empathie et personnalisation", "Empathy and personalisation"),
    },
    "retention": {
        "loyalty": ("Programme de fidélité et paliers", "Loyalty programmes and tiers"),
        "personalised_offers": ("E-mails personnalisés et offres exclusives selon l'historique",
                                "Personalised e-mails and exclusive offers from purchase history"),
        "surveys": ("Enquêtes de satisfaction", "Satisfaction surveys"),
        "communities": ("Communautés et événements", "Communities and events"),
    },
    "advocacy": {
        "easy_referral": ("Parrainage et partage faciles", "Easy referral and sharing"),
        "ambassador_rewards": ("Récompenser les ambassadeurs", "Reward ambassadors"),
        "ugc": ("Contenu créé par les utilisateurs", "User-generated content"),
        "ask_reviews": ("Demander des avis", "Ask for reviews"),
    },
}

#: kind -> the catalogue entries that answer it, as (stage, action id), most specific first.
BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    "drop_off": (("purchase", "simple_payment"), ("purchase", "live_chat"), ("purchase", "cart_reminders")),
    "slowness": (("reception", "delivery_updates"), ("after_sales", "anticipate"), ("purchase", "flexible_delivery")),
    "loop": (("consideration", "comparisons"), ("consideration", "guides"), ("purchase", "live_chat")),
    "superfluous_step": (("purchase", "simple_payment"), ("purchase", "guest_checkout")),
    "silo": (("after_sales", "self_service_or_human"), ("after_sales", "empathy"), ("after_sales", "anticipate")),
    "price_inconsistency": (("purchase", "fees_early"), ("purchase", "guarantees")),
    "surprise_cost": (("purchase", "fees_early"), ("purchase", "flexible_delivery"), ("purchase", "cart_reminders")),
    "forced_account": (("purchase", "guest_checkout"), ("purchase", "simple_payment")),
    "long_checkout": (("purchase", "simple_payment"), ("purchase", "guest_checkout"), ("purchase", "cart_reminders")),
    "negative_feedback": (("after_sales", "empathy"), ("evaluation", "collect_verbatims"), ("after_sales", "self_service_or_human")),
    "audience_mismatch": (("awareness", "target_channels"), ("awareness", "no_aggressive_selling"), ("awareness", "educational_content")),
}

#: stage ids of the built-in templates that are not catalogue keys -> catalogue stage.
STAGE_ALIASES = {
    "decision": "purchase", "action": "purchase", "achat": "purchase", "pre_purchase": "consideration",
    "post_purchase": "retention", "fidelisation": "retention", "recommendation": "advocacy",
    "maintenance": "after_sales", "sav": "after_sales", "use": "reception", "reception": "reception",
}


def actions_for(kind: str, stage: str | None = None) -> list[dict]:
    """The catalogue's actions for a friction kind (and its stage), each as {id, stage, fr, en}.

    The kind's own entries come first; then the other actions of the friction's stage.
    """
    picked = list(BY_KIND.get(kind, ()))
    stage = STAGE_ALIASES.get(stage or "", stage)
    if stage in CATALOGUE:
        picked += [(stage, a) for a in CATALOGUE[stage] if (stage, a) not in picked][:2]
    return [{"id": a, "stage": s, "fr": CATALOGUE[s][a][0], "en": CATALOGUE[s][a][1]} for s, a in picked]
