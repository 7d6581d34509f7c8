"""The command line's help in French.

Typer takes the help from the code (docstrings and ``help=``), in English, so it stays beside
what it describes; :func:`localize` puts this catalogue's French on the built command when the
language (:func:`parcours.i18n.lang_default`) is French. tests/test_i18n.py fails on any help
text without its French, and on French left behind by a change of the English."""

from __future__ import annotations

from typing import Iterator

import typer
from typer import rich_utils
from typer.core import TyperGroup

from .i18n import lang_default

FR: dict[str, str] = {
    'Show this message and exit.':
        "Afficher ce message et quitter.",
    'Customer-journey analytics: import, stitch, stage, measure and map customer journeys.':
        'Analyse des parcours clients : importer, rapprocher, placer en étapes, mesurer et cartographier les parcours.',
    'Create a workspace: an empty store and journey.yaml from a template.':
        "Créer un espace de travail : un store vide et un journey.yaml tiré d'un modèle.",
    'Folder of the new workspace.':
        'Dossier du nouvel espace de travail.',
    'Journey model template: cinq-etapes, aida-cinq, huit-etapes, trois-phases.':
        'Modèle de parcours : cinq-etapes, aida-cinq, huit-etapes, trois-phases.',
    'fr or en (default: PARCOURS_LANG, else fr).':
        'fr ou en (par défaut : PARCOURS_LANG, sinon fr).',
    'Import files; bad rows are kept aside (see `parcours rejects`), good rows imported once.':
        'Importer des fichiers ; les lignes fautives sont mises de côté (voir `parcours rejects`), les bonnes importées une seule fois.',
    'Workspace folder.':
        "Dossier de l'espace de travail.",
    'CSV, JSON Lines, Parquet or Segment JSON files.':
        'Fichiers CSV, JSON Lines, Parquet ou JSON Segment.',
    'events, customers, feedback, spend or segment (Segment-spec messages).':
        'events, customers, feedback, spend ou segment (messages au format Segment).',
    'Rename a source column: SOURCE=TARGET (repeatable).':
        'Renommer une colonne de la source : SOURCE=CIBLE (répétable).',
    'Time zone of timestamps written without an offset.':
        'Fuseau horaire des horodatages écrits sans décalage.',
    'csv, jsonl, parquet or json (default: from the file name).':
        "csv, jsonl, parquet ou json (par défaut : d'après le nom du fichier).",
    "Print the result as JSON (the result's to_dict()).":
        'Afficher le résultat en JSON (le to_dict() du résultat).',
    'List the rows that imports rejected, with file, row, column and reason.':
        'Lister les lignes rejetées par les imports, avec fichier, ligne, colonne et raison.',
    'Only the rejects of this file.':
        'Seulement les rejets de ce fichier.',
    'At most this many rows (0: all).':
        'Au plus ce nombre de lignes (0 : toutes).',
    'Write all rejects to this CSV file.':
        'Écrire tous les rejets dans ce fichier CSV.',
    'Stitch identities and assign stages again (imports do it already).':
        'Rapprocher les identités et placer à nouveau les étapes (les imports le font déjà).',
    'Rebuild every journey, not only the changed ones.':
        'Reconstruire tous les parcours, pas seulement ceux qui ont changé.',
    "One customer's timeline: stages entered and left, events, channels.":
        "La chronologie d'un client : étapes entrées et quittées, événements, canaux.",
    'A customer id or an anonymous id.':
        'Un identifiant client ou un identifiant anonyme.',
    'Conversion through ordered steps, with time to convert and breakdowns.':
        'Conversion à travers des étapes ordonnées, avec temps de conversion et ventilations.',
    'A step: NAME or NAME\\[channel=..,touchpoint=..,properties.KEY=..] (repeatable, in order).':
        "Une étape : NOM ou NOM\\[channel=..,touchpoint=..,properties.CLÉ=..] (répétable, dans l'ordre).",
    'Conversion window from the step-1 event (inclusive): 14d, 2h, 30m.':
        "Fenêtre de conversion depuis l'événement de l'étape 1 (incluse) : 14d, 2h, 30m.",
    'ordered, strict or unordered.':
        'ordered (ordonné), strict ou unordered (sans ordre).',
    'NAME:FROM:TO, steps numbered from 0 (repeatable).':
        'NOM:DE:À, étapes numérotées à partir de 0 (répétable).',
    'customer or account (B2B).':
        'customer (client) ou account (compte B2B).',
    'Breakdown: channel, touchpoint, attributes.NAME, or segments (each saved segment).':
        'Ventilation : channel, touchpoint, attributes.NOM, ou segments (chaque segment enregistré).',
    'first_touch, last_touch or step:N.':
        'first_touch, last_touch ou step:N.',
    'Only attempts starting on or after this date.':
        'Seulement les tentatives commençant à cette date ou après.',
    'Only attempts starting before this date.':
        'Seulement les tentatives commençant avant cette date.',
    "Use the journey model's stages as the steps.":
        "Prendre les étapes du modèle de parcours comme étapes de l'entonnoir.",
    'The funnel of the customers who entered in each day, week or month.':
        "L'entonnoir des clients entrés chaque jour, semaine ou mois.",
    'List the customers who reached this step (from 0) instead of counting them.':
        'Lister les clients qui ont atteint cette étape (à partir de 0) au lieu de les compter.',
    'With --people: only those who dropped after the step.':
        "Avec --people : seulement ceux qui ont abandonné après l'étape.",
    'With --people: at most this many customers.':
        'Avec --people : au plus ce nombre de clients.',
    'Only the persons of this saved segment (parcours segment add).':
        'Seulement les personnes de ce segment enregistré (parcours segment add).',
    'Also draw the result in this HTML file (self-contained, opens offline).':
        "Dessiner aussi le résultat dans ce fichier HTML (autonome, s'ouvre hors ligne).",
    'Transitions between consecutive items, top path variants, step matrix, loops.':
        'Transitions entre éléments consécutifs, variantes de chemin les plus fréquentes, matrice des pas, boucles.',
    'event, stage, touchpoint or channel.':
        'event, stage, touchpoint ou channel.',
    'Only paths from this item on.':
        'Seulement les chemins à partir de cet élément.',
    'Only paths up to this item.':
        "Seulement les chemins jusqu'à cet élément.",
    'At most this many items per path.':
        "Au plus ce nombre d'éléments par chemin.",
    'Hide transitions below this share of customers.':
        'Masquer les transitions sous cette part de clients.',
    'Cohort retention, lifecycle (new, returning, resurrecting, dormant), repeat-purchase rate.':
        'Rétention par cohorte, cycle de vie (nouveaux, fidèles, revenus, endormis), taux de réachat.',
    'The event that puts a customer in a cohort.':
        "L'événement qui place un client dans une cohorte.",
    'The event that counts as a return (default: any).':
        "L'événement qui compte comme un retour (par défaut : n'importe lequel).",
    'day, week or month.':
        'day, week ou month (jour, semaine, mois).',
    'How many periods to show.':
        'Combien de périodes afficher.',
    'Cohorts of every start event, not only the first.':
        'Cohortes de chaque événement de départ, pas seulement du premier.',
    'Success indicators per stage of the journey model, against their targets.':
        'Indicateurs de succès par étape du modèle de parcours, face à leurs cibles.',
    'channel (first touch), attributes.NAME, or segments (each saved segment).':
        'channel (premier contact), attributes.NOM, ou segments (chaque segment enregistré).',
    'Only events on or after this date.':
        'Seulement les événements à cette date ou après.',
    'Only events before this date.':
        'Seulement les événements avant cette date.',
    "Conversion window (default: journey.yaml's).":
        'Fenêtre de conversion (par défaut : celle de journey.yaml).',
    'Write a realistic omnichannel data set with planted frictions and their ground truth.':
        'Écrire un jeu de données omnicanal réaliste avec des irritants plantés et leur vérité terrain.',
    'Folder to write events, customers, feedback, spend and truth.json into.':
        'Dossier où écrire events, customers, feedback, spend et truth.json.',
    'How many people to simulate.':
        'Combien de personnes simuler.',
    'Same seed, same files.':
        'Même graine, mêmes fichiers.',
    "A frictions YAML file, 'default', or 'none' for none.":
        "Un fichier YAML d'irritants, 'default', ou 'none' pour aucun.",
    'Language of verbatims: fr or en.':
        'Langue des verbatims : fr ou en.',
    'parquet, csv or jsonl.':
        'parquet, csv ou jsonl.',
    'Build a demo workspace from generated data and show what parcours finds in it.':
        'Construire un espace de démonstration à partir de données générées et montrer ce que parcours y trouve.',
    'Folder of the demo workspace.':
        "Dossier de l'espace de démonstration.",
    'How many customers to generate.':
        'Combien de clients générer.',
    "Also write DIR/report.html (the manager's report).":
        'Écrire aussi DIR/report.html (le rapport de synthèse).',
    'Two segments side by side (funnel, stage KPIs, paths, feedback), significant differences flagged.':
        "Deux segments côte à côte (entonnoir, KPI d'étape, chemins, avis), différences significatives signalées.",
    'Two saved segments: --segment A --segment B.':
        'Deux segments enregistrés : --segment A --segment B.',
    "Funnel steps (default: the model's stages).":
        "Étapes de l'entonnoir (par défaut : les étapes du modèle).",
    'Stage transitions compared: the top ones of each segment.':
        'Transitions entre étapes comparées : les plus fréquentes de chaque segment.',
    'False discovery rate (Benjamini-Hochberg).':
        'Taux de fausses découvertes (Benjamini-Hochberg).',
    'Show every comparison, not only significant ones.':
        'Montrer toutes les comparaisons, pas seulement les significatives.',
    'Serve the HTTP API: Segment-compatible ingestion (/v1/*) and the query API (/api/v1/*).':
        "Servir l'API HTTP : collecte compatible Segment (/v1/*) et API de requêtes (/api/v1/*).",
    'Address to listen on.':
        "Adresse d'écoute.",
    'Port to listen on.':
        "Port d'écoute.",
    'Events accepted but not yet written before requests get 429.':
        'Événements acceptés mais pas encore écrits avant que les requêtes reçoivent 429.',
    'Seconds between background refreshes when data came in (0: only POST /v1/refresh).':
        'Secondes entre deux rafraîchissements en arrière-plan quand des données sont arrivées (0 : seulement POST /v1/refresh).',
    'Seconds between orchestration runs when scenarios/*.yaml exist (0: only parcours run).':
        "Secondes entre deux passages de l'orchestration quand scenarios/*.yaml existe (0 : seulement parcours run).",
    'Conversions and value credited to channels, touchpoints or campaigns (Markov or heuristics).':
        'Conversions et valeur attribuées aux canaux, points de contact ou campagnes (Markov ou heuristiques).',
    'The event that is a conversion, e.g. purchase.':
        "L'événement qui est une conversion, par ex. purchase.",
    'What gets the credit: channel, touchpoint or campaign.':
        'Ce qui reçoit le crédit : channel, touchpoint ou campaign.',
    'markov, first, last, linear, time_decay or position.':
        'markov, first, last, linear, time_decay ou position.',
    'Touches at most this long before the conversion: 30d, 12h.':
        'Seulement les contacts survenus au plus cette durée avant la conversion : 30d, 12h.',
    'Markov chain order: a state is the last N touches.':
        'Ordre de la chaîne de Markov : un état est fait des N derniers contacts.',
    'Half-life of the time_decay model.':
        'Demi-vie du modèle time_decay.',
    'Customer acquisition cost: spend / new customers, per period and channel or campaign.':
        "Coût d'acquisition client : dépenses / nouveaux clients, par période et canal ou campagne.",
    'channel or campaign (first touch of the new customer).':
        'channel ou campaign (premier contact du nouveau client).',
    'day, week, month, quarter or year.':
        'day, week, month, quarter ou year.',
    'A customer is new at their first such event.':
        'Un client est nouveau à son premier événement de ce type.',
    'Only spend and first purchases on or after this date.':
        'Seulement les dépenses et premiers achats à cette date ou après.',
    'Only spend and first purchases before this date.':
        'Seulement les dépenses et premiers achats avant cette date.',
    'Historical and predictive CLV per customer (BG/NBD and Gamma-Gamma), P(alive), expected purchases.':
        'CLV historique et prédictive par client (BG/NBD et Gamma-Gamma), P(actif), achats attendus.',
    'The event that is a purchase.':
        "L'événement qui est un achat.",
    'Fit on purchases up to this date (default: the last event).':
        "Ajuster sur les achats jusqu'à cette date (par défaut : le dernier événement).",
    'Time unit of the models: day or week.':
        'Unité de temps des modèles : day ou week.',
    'Predict over this many units.':
        "Prédire sur ce nombre d'unités.",
    "Share of a purchase's value that is margin.":
        "Part de la valeur d'un achat qui est de la marge.",
    'Discount rate per unit (none: undiscounted).':
        "Taux d'actualisation par unité (aucun : non actualisé).",
    'Execute the due steps of every scenario: entries, waits, actions, then deliver the outbox.':
        "Exécuter les pas dus de chaque scénario : entrées, attentes, actions, puis envoyer la boîte d'envoi.",
    'Run as if it were this time (ISO 8601, UTC); default now.':
        "Exécuter comme s'il était cette heure-là (ISO 8601, UTC) ; par défaut maintenant.",
    'Decide and queue messages, send nothing.':
        'Décider et mettre les messages en file, ne rien envoyer.',
    'Replay history through a scenario, sending nothing: entered, contacted, goal reached.':
        "Rejouer l'historique dans un scénario, sans rien envoyer : entrés, contactés, objectif atteint.",
    'Scenario name.':
        'Nom du scénario.',
    'First entry time replayed (ISO 8601).':
        "Première heure d'entrée rejouée (ISO 8601).",
    'Replay up to this time (default: last event).':
        "Rejouer jusqu'à cette heure (par défaut : le dernier événement).",
    'Effect of a scenario on its goal: treated against holdout, with a confidence interval.':
        "Effet d'un scénario sur son objectif : traités contre groupe témoin, avec un intervalle de confiance.",
    'Confidence level of the interval.':
        "Niveau de confiance de l'intervalle.",
    'The journey map: stage columns, lanes from the data, designed vs lived, empathy maps.':
        "La carte du parcours : colonnes d'étapes, couloirs tirés des données, conçu contre vécu, cartes d'empathie.",
    'FILE.html, .md, .json, .png or .svg (default: the table, or JSON with --json).':
        'FICHIER.html, .md, .json, .png ou .svg (par défaut : le tableau, ou du JSON avec --json).',
    "Only this persona's empathy map.":
        "Seulement la carte d'empathie de ce persona.",
    'One self-contained page for a manager: health, map, funnel, paths, KPIs, pain points, feedback, CAC, CLV.':
        'Une page autonome pour un responsable : santé, carte, entonnoir, chemins, KPI, points de douleur, avis, CAC, CLV.',
    'report.html (or .json for its data).':
        'report.html (ou .json pour ses données).',
    'NPS with its confidence interval, CSAT, CES, emotion, verbatim sentiment and themes.':
        'NPS avec son intervalle de confiance, CSAT, CES, émotion, sentiment et thèmes des verbatims.',
    'stage, touchpoint, channel, segment or a customer attribute.':
        'stage, touchpoint, channel, segment ou un attribut client.',
    'Only answers on or after this date.':
        'Seulement les réponses à cette date ou après.',
    'Only answers before this date.':
        'Seulement les réponses avant cette date.',
    'Trend per day, week or month.':
        'Tendance par jour, semaine ou mois.',
    'Skip verbatim sentiment and themes.':
        'Ne pas calculer le sentiment ni les thèmes des verbatims.',
    'Frictions with evidence, period, impact, verbatims and actions, costliest first.':
        "Irritants avec preuves, période, impact, verbatims et actions, les plus coûteux d'abord.",
    'False discovery rate over all places tested.':
        'Taux de fausses découvertes sur tous les endroits testés.',
    'Moments of truth: touchpoints whose presence changes conversion most, adjusted for progress.':
        'Moments de vérité : points de contact dont la présence change le plus la conversion, à progression égale.',
    'Only touchpoints met by at least this many people.':
        'Seulement les points de contact vus par au moins ce nombre de personnes.',
    'conversion, retention (repeat purchase) or satisfaction.':
        'conversion, retention (réachat) ou satisfaction.',
    'Saved segments: add, list, show, update, drop.':
        'Segments enregistrés : add, list, show, update, drop.',
    'Save a segment from rules, an RFM segment or clusters of journeys.':
        "Enregistrer un segment à partir de règles, d'un segment RFM ou de groupes de parcours.",
    'Segment name (letters, digits, _ . -).':
        'Nom du segment (lettres, chiffres, _ . -).',
    "A rule, e.g. 'segment = b2b', 'age >= 30', 'did purchase >= 2 within 90d', 'first_channel = search' (repeatable).":
        "Une règle, par ex. 'segment = b2b', 'age >= 30', 'did purchase >= 2 within 90d', 'first_channel = search' (répétable).",
    'Members meet at least one rule (default: all).':
        'Les membres remplissent au moins une règle (par défaut : toutes).',
    'A named RFM segment: champions, loyal, at_risk ...':
        'Un segment RFM nommé : champions, loyal, at_risk ...',
    'Cluster the journeys in K groups: saves NAME-1 .. NAME-K.':
        'Regrouper les parcours en K groupes : enregistre NOM-1 .. NOM-K.',
    'Seed of the clustering.':
        'Graine du regroupement.',
    'Replace a segment of the same name.':
        'Remplacer un segment du même nom.',
    'The saved segments, their definitions and sizes.':
        'Les segments enregistrés, leurs définitions et leurs tailles.',
    "A segment's definition and its members (person ids).":
        "La définition d'un segment et ses membres (identifiants de personnes).",
    'Segment name.':
        'Nom du segment.',
    'How many members to print (all with --json).':
        'Combien de membres afficher (tous avec --json).',
    'RFM scores per person and the size of each named RFM segment (to pick one for --rfm).':
        'Scores RFM par personne et taille de chaque segment RFM nommé (pour en choisir un avec --rfm).',
    'Recency up to this date (default: the latest event).':
        "Récence jusqu'à cette date (par défaut : le dernier événement).",
    'Evaluate a saved segment again on the current data.':
        'Évaluer à nouveau un segment enregistré sur les données actuelles.',
    'Delete a saved segment and its members.':
        'Supprimer un segment enregistré et ses membres.',
    'API keys: write keys ingest, read keys query.':
        "Clés d'API : les clés d'écriture collectent, les clés de lecture interrogent.",
    'Create a key and print it once: only its hash is stored.':
        "Créer une clé et l'afficher une seule fois : seule son empreinte est conservée.",
    'Workspace folder (the server must be stopped).':
        "Dossier de l'espace de travail (le serveur doit être arrêté).",
    'write (ingestion) or read (query API).':
        'write (collecte) ou read (API de requêtes).',
    'A label to recognise the key by.':
        'Un libellé pour reconnaître la clé.',
    'List the keys (ids, kinds, names, dates; never the keys themselves).':
        'Lister les clés (identifiants, types, noms, dates ; jamais les clés elles-mêmes).',
    'Revoke a key: it is refused from the next server start on.':
        'Révoquer une clé : elle est refusée dès le prochain démarrage du serveur.',
    "The key's id (see `parcours key list`) or the key itself.":
        "L'identifiant de la clé (voir `parcours key list`) ou la clé elle-même.",
    'Orchestration scenarios of a workspace (scenarios/*.yaml).':
        "Scénarios d'orchestration d'un espace de travail (scenarios/*.yaml).",
    'Copy a built-in scenario template into DIR/scenarios/ to edit it there.':
        "Copier un modèle de scénario intégré dans DIR/scenarios/ pour l'y modifier.",
    'Built-in scenario, e.g. abandoned-cart.':
        'Scénario intégré, par ex. abandoned-cart.',
    'Overwrite a scenario file of the same name.':
        'Écraser un fichier de scénario du même nom.',
    "The workspace's scenarios (entry, steps, goal, holdout) and the built-in templates.":
        "Les scénarios de l'espace de travail (entrée, pas, objectif, groupe témoin) et les modèles intégrés.",
    'Validate act.yaml and every scenario; errors name the file, line and field.':
        'Valider act.yaml et chaque scénario ; les erreurs nomment le fichier, la ligne et le champ.',
    'Dashboard users: admin, analyst or viewer.':
        'Utilisateurs du tableau de bord : admin, analyst ou viewer.',
    'Create a dashboard user; prints a generated password once (only its scrypt hash is stored).':
        'Créer un utilisateur du tableau de bord ; affiche une seule fois un mot de passe généré (seule son empreinte scrypt est conservée).',
    'Login name.':
        'Identifiant de connexion.',
    'admin, analyst or viewer.':
        'admin, analyst ou viewer.',
    'Read the password from stdin instead of generating one.':
        "Lire le mot de passe sur l'entrée standard au lieu d'en générer un.",
    'List the dashboard users and their roles (never their passwords).':
        'Lister les utilisateurs du tableau de bord et leurs rôles (jamais leurs mots de passe).',
}


#: Typer's own words on a help page: globals of ``typer.rich_utils``, read when it draws one.
TYPER_FR: dict[str, str] = {
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
    "ERRORS_PANEL_TITLE": "Erreur",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "DEFAULT_STRING": "[défaut : {}]",
    "RICH_HELP": "Essayez [blue]'{command_path} {help_option}'[/] pour l'aide.",
    "ABORTED_TEXT": "Interrompu.",
}

#: The same words in English, as Typer has them before any change: a process that asks for
#: French, then English (tests, a notebook) gets English back.
TYPER_EN: dict[str, str] = {name: getattr(rich_utils, name) for name in TYPER_FR if hasattr(rich_utils, name)}


def help_slots(command) -> Iterator[tuple[object, str]]:
    """Every (object, attribute) of a click command tree that holds help people read."""
    for attr in ("help", "short_help"):
        if getattr(command, attr, None):
            yield command, attr
    for param in command.params:
        if getattr(param, "help", None):
            yield param, "help"
    option = command.get_help_option(typer.Context(command))  # made once, then kept by click
    if option is not None and option.help:
        yield option, "help"
    for sub in getattr(command, "commands", {}).values():
        yield from help_slots(sub)


def localize(command, lang: str):
    """``command`` with its help in ``lang``; English stays where the catalogue has no French."""
    for name in TYPER_EN:
        setattr(rich_utils, name, (TYPER_FR if lang == "fr" else TYPER_EN)[name])
    if lang == "fr":
        for holder, attr in help_slots(command):
            text = getattr(holder, attr)
            setattr(holder, attr, FR.get(text, text))
    return command


class LocalizedGroup(TyperGroup):
    """The root command: its help, and its commands', in the language of ``PARCOURS_LANG``."""

    def main(self, *args, **kwargs):
        localize(self, lang_default())
        return super().main(*args, **kwargs)
