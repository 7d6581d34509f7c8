"""Words of the dashboard pages, in French and English (``word(key, lang)``)."""

from __future__ import annotations

from ..i18n import lang_of, translate

WORDS: dict[str, dict[str, str]] = {
    "app": {"fr": "parcours", "en": "parcours"},
    "overview": {"fr": "Vue d'ensemble", "en": "Overview"},
    "map": {"fr": "Carte du parcours", "en": "Journey map"},
    "funnel": {"fr": "Entonnoir", "en": "Funnel"},
    "paths": {"fr": "Chemins", "en": "Paths"},
    "timeline": {"fr": "Fiche client", "en": "Customer timeline"},
    "painpoints": {"fr": "Points de douleur", "en": "Pain points"},
    "feedback": {"fr": "Retours clients", "en": "Feedback"},
    "segments": {"fr": "Segments", "en": "Segments"},
    "attribution": {"fr": "Attribution", "en": "Attribution"},
    "value": {"fr": "CAC et CLV", "en": "CAC and CLV"},
    "data": {"fr": "Données", "en": "Data"},
    "surveys": {"fr": "Enquêtes", "en": "Surveys"},
    "users": {"fr": "Utilisateurs et clés", "en": "Users and keys"},
    "login": {"fr": "Connexion", "en": "Log in"},
    "logout": {"fr": "Déconnexion", "en": "Log out"},
    "user": {"fr": "Utilisateur", "en": "User"},
    "password": {"fr": "Mot de passe", "en": "Password"},
    "bad_login": {"fr": "Nom ou mot de passe incorrect.", "en": "Wrong name or password."},
    "too_many": {"fr": "Trop d'essais : réessayez dans {s} s.",
                 "en": "Too many attempts: try again in {s} s."},
    "loading": {"fr": "Calcul en cours…", "en": "Computing…"},
    "failed": {"fr": "Échec : ", "en": "Failed: "},
    "steps": {"fr": "Étapes (une par ligne)", "en": "Steps (one per line)"},
    "window": {"fr": "Fenêtre", "en": "Window"},
    "order": {"fr": "Ordre", "en": "Order"},
    "exclude": {"fr": "Exclusions (NOM:DE:À, une par ligne)",
                "en": "Exclusions (NAME:FROM:TO, one per line)"},
    "by": {"fr": "Ventilation", "en": "Breakdown"},
    "none": {"fr": "aucune", "en": "none"},
    "build": {"fr": "Construire", "en": "Build"},
    "search": {"fr": "Chercher", "en": "Search"},
    "customer_id": {"fr": "Identifiant client", "en": "Customer id"},
    "kind": {"fr": "Type", "en": "Kind"},
    "question_fr": {"fr": "Question (français)", "en": "Question (French)"},
    "question_en": {"fr": "Question (anglais)", "en": "Question (English)"},
    "free_text": {"fr": "Question ouverte", "en": "Free-text question"},
    "touchpoint": {"fr": "Point de contact", "en": "Touchpoint"},
    "channel": {"fr": "Canal", "en": "Channel"},
    "create": {"fr": "Créer", "en": "Create"},
    "embed": {"fr": "Intégration", "en": "Embed"},
    "hosted": {"fr": "Page hébergée", "en": "Hosted page"},
    "answers": {"fr": "Réponses", "en": "Answers"},
    "send": {"fr": "Envoyer", "en": "Send"},
    "thanks": {"fr": "Merci pour votre réponse !", "en": "Thank you for your answer!"},
    "comment": {"fr": "Un commentaire ? (facultatif)", "en": "Any comment? (optional)"},
    "role": {"fr": "Rôle", "en": "Role"},
    "read_only": {"fr": "Lecture seule : votre rôle ne permet pas cette action.",
                  "en": "Read only: your role does not allow this action."},
    "new_secret": {"fr": "à transmettre, affiché une seule fois : ", "en": "to hand over, shown this once: "},
    "keys": {"fr": "Clés d'API", "en": "API keys"},
    "revoke": {"fr": "Révoquer", "en": "Revoke"},
    "imports": {"fr": "Imports", "en": "Imports"},
    "rejects": {"fr": "Lignes rejetées", "en": "Rejected rows"},
    "identities": {"fr": "Identités", "en": "Identities"},
    "name": {"fr": "Nom", "en": "Name"},
    "definition": {"fr": "Règle (ex. segment = b2b, did purchase >= 2 within 90d)",
                   "en": "Rule (e.g. segment = b2b, did purchase >= 2 within 90d)"},
    "save": {"fr": "Enregistrer", "en": "Save"},
    "compare": {"fr": "Comparer les segments (entonnoir des étapes)",
                "en": "Compare segments (stage funnel)"},
    "cac": {"fr": "Coût d'acquisition (CAC)", "en": "Acquisition cost (CAC)"},
    "clv": {"fr": "Valeur vie client (CLV)", "en": "Customer lifetime value (CLV)"},
    "health": {"fr": "Santé du parcours", "en": "Journey health"},
    "created": {"fr": "Créée.", "en": "Created."},
}


def word(key: str, lang: str | None = None, **values) -> str:
    """A word of the dashboard (see :data:`WORDS`)."""
    return translate(WORDS, key, lang, **values)


__all__ = ["WORDS", "word", "lang_of"]
