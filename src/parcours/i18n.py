"""Messages shown to people, in French (default of the demo) and English.

Keys are short English ids; ``t(key, lang, **values)`` formats the message. The locale comes
from the caller, else ``PARCOURS_LANG``, else French.

The CLI's messages live here; the rendered pages' words (``render/labels.py``) and the
dashboard's (``web/page_labels.py``) are catalogues of their own, kept beside what shows them,
read through the same :func:`translate` and :func:`lang_of`.
"""

from __future__ import annotations

import os

MESSAGES: dict[str, dict[str, str]] = {
    "init.done": {
        "fr": "Espace de travail créé dans {path} (modèle de parcours : {template}).",
        "en": "Workspace created in {path} (journey model: {template}).",
    },
    "import.file": {"fr": "Import de {file}", "en": "Importing {file}"},
    "import.summary": {
        "fr": "{imported} lignes importées, {rejected} rejetées, {duplicates} doublons ignorés.",
        "en": "{imported} rows imported, {rejected} rejected, {duplicates} duplicates skipped.",
    },
    "import.rejects_hint": {
        "fr": "Voir les lignes rejetées : parcours rejects {dir}",
        "en": "See the rejected rows: parcours rejects {dir}",
    },
    "refresh.done": {
        "fr": "Parcours reconstruits : {persons} personnes, {events} événements.",
        "en": "Journeys rebuilt: {persons} people, {events} events.",
    },
    "rejects.none": {"fr": "Aucune ligne rejetée.", "en": "No rejected rows."},
    "col.file": {"fr": "fichier", "en": "file"},
    "col.row": {"fr": "ligne", "en": "row"},
    "col.column": {"fr": "colonne", "en": "column"},
    "col.reason": {"fr": "raison", "en": "reason"},
    "col.stage": {"fr": "étape", "en": "stage"},
    "col.entered": {"fr": "entrée", "en": "entered"},
    "col.left": {"fr": "sortie", "en": "left"},
    "col.move": {"fr": "mouvement", "en": "move"},
    "col.time": {"fr": "date", "en": "time"},
    "col.event": {"fr": "événement", "en": "event"},
    "col.channel": {"fr": "canal", "en": "channel"},
    "col.touchpoint": {"fr": "point de contact", "en": "touchpoint"},
    "journey.title": {
        "fr": "Parcours de {person} — étape actuelle : {stage}",
        "en": "Journey of {person} — current stage: {stage}",
    },
    "error": {"fr": "Erreur", "en": "Error"},
    "demo.generating": {
        "fr": "Génération de données de démonstration ({customers} clients) ...",
        "en": "Generating demo data ({customers} customers) ...",
    },
    "demo.done": {
        "fr": "Démo prête dans {dir}. Essayez : .venv/bin/parcours journey {dir} {customer}",
        "en": "Demo ready in {dir}. Try: .venv/bin/parcours journey {dir} {customer}",
    },
    "demo.funnel": {"fr": "Entonnoir d'achat (fenêtre 30 jours)", "en": "Purchase funnel (30-day window)"},
    "col.kpi": {"fr": "indicateur", "en": "KPI"},
    "col.value": {"fr": "valeur", "en": "value"},
    "col.target": {"fr": "cible", "en": "target"},
    "col.met": {"fr": "atteint", "en": "met"},
    "col.step": {"fr": "étape de l'entonnoir", "en": "funnel step"},
    "col.customers": {"fr": "clients", "en": "customers"},
    "painpoints.title": {"fr": "Points de douleur, du plus coûteux au moins coûteux",
                         "en": "Pain points, costliest first"},
    "painpoints.none": {"fr": "Aucun point de douleur significatif ({tested} comparaisons, FDR {fdr:.0%}).",
                        "en": "No significant pain point ({tested} comparisons, FDR {fdr:.0%})."},
    "painpoints.always": {"fr": "toujours", "en": "always"},
    "moments.title.conversion": {"fr": "Moments de vérité : effet sur la conversion (ajusté sur l'étape atteinte)",
                                 "en": "Moments of truth: effect on conversion (adjusted for the stage reached)"},
    "moments.title.satisfaction": {"fr": "Moments de vérité : effet sur la satisfaction (ajusté sur l'étape atteinte)",
                                   "en": "Moments of truth: effect on satisfaction (adjusted for the stage reached)"},
    "moments.title.retention": {"fr": "Moments de vérité : effet sur le réachat (ajusté sur l'étape atteinte)",
                                "en": "Moments of truth: effect on repeat purchase (adjusted for the stage reached)"},
    "col.lost_per_month": {"fr": "conversions perdues / mois", "en": "conversions lost / month"},
    "col.revenue_per_month": {"fr": "CA perdu / mois", "en": "revenue lost / month"},
    "col.exposed": {"fr": "exposés", "en": "exposed"},
    "moments.effect": {"fr": "effet ajusté", "en": "adjusted effect"},
    "col.interval": {"fr": "IC 95 %", "en": "95% CI"},
    "col.crude": {"fr": "écart brut", "en": "crude difference"},
    "moments.significant": {"fr": "significatif", "en": "significant"},
    "col.from_previous": {"fr": "depuis la précédente", "en": "from previous"},
    "col.median_time": {"fr": "délai médian", "en": "median time"},
    "demo.stages": {"fr": "Clients par étape atteinte", "en": "Customers by stage reached"},
    "serve.start": {
        "fr": "API de parcours sur {url} (espace {dir}) : ingestion /v1/*, requêtes /api/v1/*, schéma /docs.",
        "en": "parcours API on {url} (workspace {dir}): ingestion /v1/*, queries /api/v1/*, schema /docs.",
    },
    "key.added": {
        "fr": "Clé {kind} {key_id} créée : copiez-la maintenant, elle ne sera plus affichée.",
        "en": "{kind} key {key_id} created: copy it now, it will not be shown again.",
    },
    "key.revoked": {"fr": "Clé {key_id} révoquée.", "en": "Key {key_id} revoked."},
    "user.added": {
        "fr": "Utilisateur {name} ({role}) créé. Mot de passe affiché une seule fois : {password}",
        "en": "User {name} ({role}) created. Password, shown this once: {password}",
    },
    "user.added_stdin": {"fr": "Utilisateur {name} ({role}) créé.", "en": "User {name} ({role}) created."},
    "col.key_id": {"fr": "identifiant", "en": "id"},
    "col.key_kind": {"fr": "type", "en": "kind"},
    "col.key_name": {"fr": "nom", "en": "name"},
    "col.created_at": {"fr": "créée le", "en": "created"},
    "col.revoked_at": {"fr": "révoquée le", "en": "revoked"},
    "segment.saved": {"fr": "Segment {name} enregistré : {members} personnes.",
                      "en": "Segment {name} saved: {members} people."},
    "segment.dropped": {"fr": "Segment {name} supprimé.", "en": "Segment {name} dropped."},
    "segment.none": {"fr": "Aucun segment enregistré.", "en": "No segment saved."},
    "segment.one_kind": {"fr": "Donnez --rule, --rfm ou --cluster (un seul genre).",
                         "en": "Give --rule, --rfm or --cluster (one kind only)."},
    "compare.title": {"fr": "{a} contre {b} : différences (q ≤ {alpha})",
                      "en": "{a} versus {b}: differences (q ≤ {alpha})"},
    "compare.none": {"fr": "Aucune différence significative.", "en": "No significant difference."},
    "col.segment": {"fr": "segment", "en": "segment"},
    "col.kind": {"fr": "genre", "en": "kind"},
    "col.definition": {"fr": "définition", "en": "definition"},
    "col.members": {"fr": "membres", "en": "members"},
    "col.created": {"fr": "créé le", "en": "created"},
    "col.measure": {"fr": "mesure", "en": "measure"},
    "col.where": {"fr": "où", "en": "where"},
    "col.effect": {"fr": "écart (B − A)", "en": "effect (B − A)"},
    "col.q_value": {"fr": "q", "en": "q"},
    "col.significant": {"fr": "significatif", "en": "significant"},
    "attribution.title": {"fr": "Attribution ({model}, par {touch}) : {conversions} conversions, valeur {value}",
                          "en": "Attribution ({model}, by {touch}): {conversions} conversions, value {value}"},
    "cac.total": {"fr": "Total : dépense {spend}, {new} nouveaux clients, CAC {cac}",
                  "en": "Total: spend {spend}, {new} new customers, CAC {cac}"},
    "clv.params": {"fr": "BG/NBD : {bgnbd} — Gamma-Gamma : {gg} — horizon {horizon} {unit}",
                   "en": "BG/NBD: {bgnbd} — Gamma-Gamma: {gg} — horizon {horizon} {unit}"},
    "unit.day": {"fr": "jours", "en": "days"},
    "unit.week": {"fr": "semaines", "en": "weeks"},
    "clv.not_fitted": {"fr": "non ajusté", "en": "not fitted"},
    "col.conversions": {"fr": "conversions", "en": "conversions"},
    "col.removal_effect": {"fr": "effet de retrait", "en": "removal effect"},
    "col.campaign": {"fr": "campagne", "en": "campaign"},
    "col.period": {"fr": "période", "en": "period"},
    "col.spend": {"fr": "dépense", "en": "spend"},
    "col.new_customers": {"fr": "nouveaux clients", "en": "new customers"},
    "col.cac": {"fr": "CAC", "en": "CAC"},
    "col.customer": {"fr": "client", "en": "customer"},
    "col.frequency": {"fr": "achats répétés", "en": "repeat purchases"},
    "col.recency": {"fr": "récence", "en": "recency"},
    "col.T": {"fr": "ancienneté", "en": "age (T)"},
    "col.p_alive": {"fr": "P(actif)", "en": "P(alive)"},
    "col.expected_purchases": {"fr": "achats attendus", "en": "expected purchases"},
    "col.expected_spend": {"fr": "panier attendu", "en": "expected spend"},
    "col.historical_clv": {"fr": "CLV historique", "en": "historical CLV"},
    "col.predicted_clv": {"fr": "CLV prédite", "en": "predicted CLV"},
    "act.added": {"fr": "Scénario {name} ajouté : {path}", "en": "Scenario {name} added: {path}"},
    "act.valid": {"fr": "{n} scénario(s) valides : {names}", "en": "{n} valid scenario(s): {names}"},
    "act.none": {
        "fr": "Aucun scénario dans {dir}/scenarios ; ajoutez-en un : parcours scenario add {dir} --template abandoned-cart",
        "en": "No scenario in {dir}/scenarios; add one: parcours scenario add {dir} --template abandoned-cart",
    },
    "act.ran": {
        "fr": "Exécution jusqu'au {now} : {customers} clients traités, {events} événements réécrits, {sent} messages envoyés.",
        "en": "Run up to {now}: {customers} customers handled, {events} events written back, {sent} messages sent.",
    },
    "act.waiting": {
        "fr": "{n} message(s) en attente du canal {hook} (non configuré dans act.yaml).",
        "en": "{n} message(s) waiting for channel {hook} (not configured in act.yaml).",
    },
    "act.failed": {"fr": "{n} message(s) en échec définitif.", "en": "{n} message(s) failed for good."},
    "act.progress": {"fr": "Clients traités par lots", "en": "Customers handled in batches"},
    "act.warning": {"fr": "Attention", "en": "Warning"},
    "act.lift": {
        "fr": "{scenario} : objectif {goal} sous {window}. Traités {tr} ({tn} entrées), témoin {hr} ({hn} entrées) ; "
              "écart {d} [{lo} ; {hi}] à {conf} %.",
        "en": "{scenario}: goal {goal} within {window}. Treated {tr} ({tn} entries), holdout {hr} ({hn} entries); "
              "difference {d} [{lo}, {hi}] at {conf}%.",
    },
    "act.lift_na": {
        "fr": "{scenario} : pas encore assez d'entrées arrivées au bout de la fenêtre de l'objectif dans les deux groupes.",
        "en": "{scenario}: not enough entries past the goal window in both groups yet.",
    },
    "col.scenario": {"fr": "scénario", "en": "scenario"},
    "col.entry": {"fr": "entrée", "en": "entry"},
    "col.template": {"fr": "modèle", "en": "template"},
    "act.col.scenario": {"fr": "scénario", "en": "scenario"},
    "act.col.entry": {"fr": "entrée", "en": "entry"},
    "act.col.steps": {"fr": "étapes", "en": "steps"},
    "act.col.goal": {"fr": "objectif", "en": "goal"},
    "act.col.holdout": {"fr": "témoin", "en": "holdout"},
    "act.col.enabled": {"fr": "actif", "en": "enabled"},
    "act.col.entered": {"fr": "entrées", "en": "entered"},
    "act.col.control": {"fr": "contrôle global", "en": "control group"},
    "act.col.actions": {"fr": "actions", "en": "actions"},
    "act.col.messages": {"fr": "messages", "en": "messages"},
    "act.col.suppressed": {"fr": "écartés", "en": "suppressed"},
    "act.col.postponed": {"fr": "reportés", "en": "postponed"},
    "act.col.exited": {"fr": "sortis", "en": "exited"},
    "act.col.done": {"fr": "terminés", "en": "done"},
    "act.col.customers": {"fr": "clients", "en": "customers"},
    "act.col.contacted": {"fr": "contactés", "en": "contacted"},
    "act.col.status": {"fr": "statut", "en": "status"},
    "act.col.variant": {"fr": "variante", "en": "variant"},
    "act.col.entries": {"fr": "entrées", "en": "entries"},
    "act.col.rate": {"fr": "taux", "en": "rate"},
    "act.col.treated_rate": {"fr": "taux des traités", "en": "treated rate"},
    "act.col.holdout_rate": {"fr": "taux du témoin", "en": "holdout rate"},
    "act.col.measure": {"fr": "mesure", "en": "measure"},
    "act.col.value": {"fr": "valeur", "en": "value"},
    "feedback.title": {"fr": "Satisfaction : NPS, CSAT, CES et émotion", "en": "Satisfaction: NPS, CSAT, CES and emotion"},
    "feedback.trend": {"fr": "Évolution par période", "en": "Trend per period"},
    "feedback.all": {"fr": "ensemble", "en": "all"},
    "feedback.none": {"fr": "Aucune réponse dans la période.", "en": "No answers in the range."},
    "feedback.verbatims": {
        "fr": "Verbatims : {n} textes, {negative} négatifs, {neutral} neutres, {positive} positifs (sentiment moyen {mean}).",
        "en": "Verbatims: {n} texts, {negative} negative, {neutral} neutral, {positive} positive (mean sentiment {mean}).",
    },
    "feedback.themes": {"fr": "Thèmes des verbatims", "en": "Verbatim themes"},
    "col.group": {"fr": "groupe", "en": "group"},
    "col.nps": {"fr": "NPS", "en": "NPS"},
    "col.nps_ci": {"fr": "IC 95 % du NPS", "en": "NPS 95% CI"},
    "col.csat": {"fr": "CSAT (% 4–5)", "en": "CSAT (% 4–5)"},
    "col.csat_mean": {"fr": "CSAT moyen", "en": "CSAT mean"},
    "col.ces": {"fr": "CES moyen", "en": "CES mean"},
    "col.emotion": {"fr": "émotion", "en": "emotion"},
    "col.theme": {"fr": "thème", "en": "theme"},
    "col.verbatims": {"fr": "verbatims", "en": "verbatims"},
    "col.share": {"fr": "part", "en": "share"},
    "col.step_index": {"fr": "n°", "en": "#"},
    "col.count": {"fr": "nombre", "en": "count"},
    "col.conversion_from_first": {"fr": "depuis la première", "en": "from first"},
    "col.average_seconds": {"fr": "délai moyen", "en": "average time"},
    "col.from": {"fr": "de", "en": "from"},
    "col.to": {"fr": "vers", "en": "to"},
    "col.cohort": {"fr": "cohorte", "en": "cohort"},
    "col.size": {"fr": "taille", "en": "size"},
    "col.share_of_previous": {"fr": "part de la période précédente", "en": "share of previous period"},
    "col.id": {"fr": "identifiant", "en": "id"},
    "col.furthest_step": {"fr": "étape la plus avancée", "en": "furthest step"},
    "col.entered_at": {"fr": "entré le", "en": "entered at"},
    "col.step_at": {"fr": "à l'étape le", "en": "at the step at"},
    "col.path": {"fr": "chemin", "en": "path"},
    "col.converted": {"fr": "convertis", "en": "converted"},
    "col.conversion": {"fr": "conversion", "en": "conversion"},
    "col.item": {"fr": "élément", "en": "item"},
    "col.returns": {"fr": "retours", "en": "returns"},
    "paths.transitions": {"fr": "Transitions entre éléments consécutifs ({customers} clients)",
                          "en": "Transitions between consecutive items ({customers} customers)"},
    "paths.variants": {"fr": "Variantes de chemin les plus fréquentes", "en": "Most common path variants"},
    "paths.loops": {"fr": "Boucles : retours à un élément déjà vu", "en": "Loops: coming back to an item already seen"},
    "paths.backward": {"fr": "Retours en arrière entre étapes", "en": "Backward moves between stages"},
    "retention.cohorts": {"fr": "Rétention par cohorte ({kind}) : part de la cohorte active à chaque {period} qui suit",
                          "en": "Cohort retention ({kind}): share of the cohort active in each following {period}"},
    "retention.day": {"fr": "jour", "en": "day"},
    "retention.week": {"fr": "semaine", "en": "week"},
    "retention.month": {"fr": "mois", "en": "month"},
    "retention.first_time": {"fr": "premier {event}", "en": "first {event}"},
    "retention.recurring": {"fr": "chaque {event}", "en": "every {event}"},
    "retention.lifecycle": {"fr": "Cycle de vie par période", "en": "Lifecycle per period"},
    "retention.repeat": {"fr": "Taux de réachat : {rate} ({repeat} acheteurs sur {purchasers} ont acheté au moins deux fois)",
                         "en": "Repeat-purchase rate: {rate} ({repeat} of {purchasers} purchasers bought at least twice)"},
    "kpis.breakdown": {"fr": "Par {by} : portée, conversion et temps médian par étape",
                       "en": "By {by}: reach, conversion and median time per stage"},
    "funnel.reached": {"fr": "{total} clients ont atteint l'étape {step} ({name}) ; {shown} listés",
                       "en": "{total} customers reached step {step} ({name}); {shown} listed"},
    "funnel.dropped": {"fr": "{total} clients ont abandonné après l'étape {step} ({name}) ; {shown} listés",
                       "en": "{total} customers dropped after step {step} ({name}); {shown} listed"},
    "cli.more_rows": {"fr": "{shown} lignes affichées sur {total} ; --json les donne toutes.",
                      "en": "{shown} rows shown of {total}; --json gives them all."},
    "col.sentiment": {"fr": "sentiment", "en": "sentiment"},
    "col.example": {"fr": "exemple", "en": "example"},
}


LANGS = ("fr", "en")


def lang_default() -> str:
    """``PARCOURS_LANG`` (its first two letters) when it is fr or en, else French."""
    lang = os.environ.get("PARCOURS_LANG", "fr").lower()[:2]
    return lang if lang in LANGS else "fr"


def lang_of(value: str | None, default: str = "fr") -> str:
    """``value`` when it is a language we speak, else ``default``: what the web calls on the
    language it was given (a query parameter, a cookie, a survey answer)."""
    return value if value in LANGS else default


def translate(catalogue: dict[str, dict[str, str]], key: str, lang: str | None = None, **values) -> str:
    """The text of ``key`` in ``lang`` (default: :func:`lang_default`; English when the catalogue
    lacks that language), formatted with ``values``: the one look-up of every catalogue."""
    entry = catalogue[key]
    text = entry.get(lang or lang_default(), entry["en"])
    return text.format(**values) if values else text


def t(key: str, lang: str | None = None, **values) -> str:
    """A CLI message (see :data:`MESSAGES`)."""
    return translate(MESSAGES, key, lang, **values)
