"""Words of the dashboard pages, in French and English (``word(key, lang)``)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {  # key: (fr, en)
    "app": ("parcours", "parcours"),
    "overview": ("Vue d'ensemble", "Overview"),
    "map": ("Carte du parcours", "Journey map"),
    "funnel": ("Entonnoir", "Funnel"),
    "paths": ("Chemins", "Paths"),
    "timeline": ("Fiche client", "Customer timeline"),
    "painpoints": ("Points de douleur", "Pain points"),
    "feedback": ("Retours clients", "Feedback"),
    "segments": ("Segments", "Segments"),
    "attribution": ("Attribution", "Attribution"),
    "value": ("CAC et CLV", "CAC and CLV"),
    "data": ("Données", "Data"),
    "surveys": ("Enquêtes", "Surveys"),
    "users": ("Utilisateurs et clés", "Users and keys"),
    "login": ("Connexion", "Log in"),
    "logout": ("Déconnexion", "Log out"),
    "user": ("Utilisateur", "User"),
    "password": ("Mot de passe", "Password"),
    "bad_login": ("Nom ou mot de passe incorrect.", "Wrong name or password."),
    "too_many": ("Trop d'essais : réessayez dans {s} s.", "Too many attempts: try again in {s} s."),
    "loading": ("Calcul en cours…", "Computing…"),
    "failed": ("Échec : ", "Failed: "),
    "steps": ("Étapes (une par ligne)", "Steps (one per line)"),
    "window": ("Fenêtre", "Window"),
    "order": ("Ordre", "Order"),
    "exclude": ("Exclusions (NOM:DE:À, une par ligne)", "Exclusions (NAME:FROM:TO, one per line)"),
    "by": ("Ventilation", "Breakdown"),
    "none": ("aucune", "none"),
    "build": ("Construire", "Build"),
    "search": ("Chercher", "Search"),
    "customer_id": ("Identifiant client", "Customer id"),
    "kind": ("Type", "Kind"),
    "question_fr": ("Question (français)", "Question (French)"),
    "question_en": ("Question (anglais)", "Question (English)"),
    "free_text": ("Question ouverte", "Free-text question"),
    "touchpoint": ("Point de contact", "Touchpoint"),
    "channel": ("Canal", "Channel"),
    "create": ("Créer", "Create"),
    "embed": ("Intégration", "Embed"),
    "hosted": ("Page hébergée", "Hosted page"),
    "answers": ("Réponses", "Answers"),
    "send": ("Envoyer", "Send"),
    "thanks": ("Merci pour votre réponse !", "Thank you for your answer!"),
    "comment": ("Un commentaire ? (facultatif)", "Any comment? (optional)"),
    "role": ("Rôle", "Role"),
    "read_only": ("Lecture seule : votre rôle ne permet pas cette action.",
                  "Read only: your role does not allow this action."),
    "new_secret": ("à transmettre, affiché une seule fois : ", "to hand over, shown this once: "),
    "keys": ("Clés d'API", "API keys"),
    "revoke": ("Révoquer", "Revoke"),
    "imports": ("Imports", "Imports"),
    "rejects": ("Lignes rejetées", "Rejected rows"),
    "identities": ("Identités", "Identities"),
    "name": ("Nom", "Name"),
    "definition": ("Règle (ex. segment = b2b, did purchase >= 2 within 90d)",
                   "Rule (e.g. segment = b2b, did purchase >= 2 within 90d)"),
    "save": ("Enregistrer", "Save"),
    "compare": ("Comparer les segments (entonnoir des étapes)", "Compare segments (stage funnel)"),
    "cac": ("Coût d'acquisition (CAC)", "Acquisition cost (CAC)"),
    "clv": ("Valeur vie client (CLV)", "Customer lifetime value (CLV)"),
    "health": ("Santé du parcours", "Journey health"),
    "created": ("Créée.", "Created."),
}


def word(key: str, lang: str, **values) -> str:
    fr, en = WORDS[key]
    text = fr if lang == "fr" else en
    return text.format(**values) if values else text


def lang_of(value: str | None) -> str:
    return value if value in ("fr", "en") else "fr"


__all__ = ["WORDS", "word", "lang_of"]
