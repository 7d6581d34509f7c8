"""The canonical tables: one declaration used by the store's DDL, import validation and the docs.

Each column says its DuckDB type, whether it is required, its maximum length for text, and
a one-line description (English and French) that ``docs/data-model.md`` is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FEEDBACK_KINDS = ("nps", "csat", "ces", "review", "verbatim", "complaint")
#: inclusive score range per feedback kind; kinds absent here take any score or none.
FEEDBACK_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "review": (1, 5)}

MAX_ID = 256
MAX_NAME = 256
MAX_TEXT = 10_000
MAX_JSON = 65_536


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    required: bool = False
    max_length: int | None = None
    doc_en: str = ""
    doc_fr: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    #: columns whose value identifies a row; absent ones are replaced by a content hash.
    key: str | None = None
    #: at least one of these must be present (e.g. customer_id or anonymous_id).
    one_of: tuple[str, ...] = ()
    doc_en: str = ""
    doc_fr: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


EVENTS = Table(
    "events",
    (
        Column("event_id", "VARCHAR", max_length=MAX_ID,
               doc_en="Unique id of the event; a content hash (`h:` + md5) when the source has none. Re-imports skip known ids.",
               doc_fr="Identifiant unique de l'événement ; empreinte du contenu (`h:` + md5) quand la source n'en a pas."),
        Column("customer_id", "VARCHAR", max_length=MAX_ID,
               doc_en="Known customer (Segment userId). Kept as imported; stitching is in `identities`.",
               doc_fr="Client identifié (userId Segment), tel qu'importé ; le rapprochement est dans `identities`."),
        Column("anonymous_id", "VARCHAR", max_length=MAX_ID,
               doc_en="Device or cookie id before sign-in (Segment anonymousId).",
               doc_fr="Identifiant d'appareil ou de cookie avant connexion (anonymousId Segment)."),
        Column("account_id", "VARCHAR", max_length=MAX_ID,
               doc_en="B2B account (Segment groupId) the event belongs to.",
               doc_fr="Compte B2B (groupId Segment) auquel l'événement appartient."),
        Column("timestamp", "TIMESTAMP", required=True,
               doc_en="When it happened, in UTC (offsets in the source are applied; naive times use the import's time zone).",
               doc_fr="Quand l'événement a eu lieu, en UTC (décalages appliqués ; heures sans fuseau prises dans le fuseau de l'import)."),
        Column("event", "VARCHAR", required=True, max_length=MAX_NAME,
               doc_en="Event name, e.g. `page_view`, `add_to_cart`, `purchase`.",
               doc_fr="Nom de l'événement, par ex. `page_view`, `add_to_cart`, `purchase`."),
        Column("channel", "VARCHAR", max_length=MAX_NAME,
               doc_en="Channel: web, app, email, social, search, store, phone, chat ...",
               doc_fr="Canal : web, app, email, social, search, store, phone, chat ..."),
        Column("touchpoint", "VARCHAR", max_length=MAX_NAME,
               doc_en="Touchpoint within the channel: a page, a screen, a campaign, a counter ...",
               doc_fr="Point de contact dans le canal : une page, un écran, une campagne, un guichet ..."),
        Column("value", "DOUBLE",
               doc_en="Monetary value (order amount, refund as negative), in `currency`.",
               doc_fr="Valeur monétaire (montant de commande, remboursement négatif), en `currency`."),
        Column("currency", "VARCHAR", max_length=3,
               doc_en="ISO 4217 code of `value` (EUR, USD ...).",
               doc_fr="Code ISO 4217 de `value` (EUR, USD ...)."),
        Column("properties", "JSON", max_length=MAX_JSON,
               doc_en="Any other attribute as a JSON object; unknown source columns land here.",
               doc_fr="Tout autre attribut, en objet JSON ; les colonnes inconnues de la source y sont rangées."),
    ),
    key="event_id",
    one_of=("customer_id", "anonymous_id"),
    doc_en="One row per interaction of a person with the company, on any channel.",
    doc_fr="Une ligne par interaction d'une personne avec l'entreprise, sur tout canal.",
)

CUSTOMERS = Table(
    "customers",
    (
        Column("customer_id", "VARCHAR", required=True, max_length=MAX_ID,
               doc_en="Customer id, the same as `events.customer_id`.",
               doc_fr="Identifiant client, le même que `events.customer_id`."),
        Column("account_id", "VARCHAR", max_length=MAX_ID,
               doc_en="B2B account the customer belongs to.",
               doc_fr="Compte B2B auquel le client appartient."),
        Column("created_at", "TIMESTAMP",
               doc_en="When the customer record was created (sign-up), UTC.",
               doc_fr="Date de création de la fiche client (inscription), en UTC."),
        Column("attributes", "JSON", max_length=MAX_JSON,
               doc_en="Segment, country, age band, b2b/b2c, consent flags ... as a JSON object. A later import merges into it.",
               doc_fr="Segment, pays, tranche d'âge, b2b/b2c, consentements ... en objet JSON ; un import ultérieur le complète."),
    ),
    key="customer_id",
    doc_en="One row per known customer; re-imports update it.",
    doc_fr="Une ligne par client connu ; les imports suivants la mettent à jour.",
)

FEEDBACK = Table(
    "feedback",
    (
        Column("feedback_id", "VARCHAR", max_length=MAX_ID,
               doc_en="Unique id of the answer; a content hash when absent.",
               doc_fr="Identifiant unique de la réponse ; empreinte du contenu quand absent."),
        Column("customer_id", "VARCHAR", max_length=MAX_ID,
               doc_en="Who answered (may be empty for anonymous reviews).",
               doc_fr="Qui a répondu (vide pour un avis anonyme)."),
        Column("timestamp", "TIMESTAMP", required=True,
               doc_en="When the answer was given, UTC.", doc_fr="Date de la réponse, en UTC."),
        Column("kind", "VARCHAR", required=True, max_length=16,
               doc_en="One of nps, csat, ces, review, verbatim, complaint.",
               doc_fr="Un de nps, csat, ces, review, verbatim, complaint."),
        Column("score", "DOUBLE",
               doc_en="Score on the kind's scale: nps 0–10, csat 1–5, ces 1–7, review 1–5.",
               doc_fr="Note sur l'échelle du type : nps 0–10, csat 1–5, ces 1–7, review 1–5."),
        Column("text", "VARCHAR", max_length=MAX_TEXT,
               doc_en="Free-text verbatim.", doc_fr="Verbatim en texte libre."),
        Column("language", "VARCHAR", max_length=8,
               doc_en="Language of `text` (fr, en ...).", doc_fr="Langue de `text` (fr, en ...)."),
        Column("channel", "VARCHAR", max_length=MAX_NAME,
               doc_en="Channel where it was collected.", doc_fr="Canal de collecte."),
        Column("touchpoint", "VARCHAR", max_length=MAX_NAME,
               doc_en="Touchpoint it is about or was asked at.", doc_fr="Point de contact concerné ou de collecte."),
    ),
    key="feedback_id",
    doc_en="Survey answers, reviews, verbatims and complaints.",
    doc_fr="Réponses aux enquêtes, avis, verbatims et réclamations.",
)

SPEND = Table(
    "spend",
    (
        Column("date", "DATE", required=True, doc_en="Day of the spend.", doc_fr="Jour de la dépense."),
        Column("channel", "VARCHAR", required=True, max_length=MAX_NAME,
               doc_en="Channel the money was spent on.", doc_fr="Canal de la dépense."),
        Column("campaign", "VARCHAR", max_length=MAX_NAME,
               doc_en="Campaign name.", doc_fr="Nom de la campagne."),
        Column("amount", "DOUBLE", required=True,
               doc_en="Amount spent (marketing and sales).", doc_fr="Montant dépensé (marketing et ventes)."),
        Column("currency", "VARCHAR", max_length=3,
               doc_en="ISO 4217 code of `amount`.", doc_fr="Code ISO 4217 de `amount`."),
    ),
    doc_en="Marketing and sales spend, for CAC. Identical rows are imported once.",
    doc_fr="Dépenses marketing et commerciales, pour le CAC. Les lignes identiques ne sont importées qu'une fois.",
)

IDENTITIES = Table(
    "identities",
    (
        Column("alias_id", "VARCHAR", required=True, max_length=MAX_ID,
               doc_en="The id being linked: an anonymous id, or a previous user id (alias).",
               doc_fr="L'identifiant rattaché : un identifiant anonyme, ou un ancien identifiant (alias)."),
        Column("customer_id", "VARCHAR", required=True, max_length=MAX_ID,
               doc_en="The customer it is linked to.", doc_fr="Le client auquel il est rattaché."),
        Column("source", "VARCHAR", max_length=16,
               doc_en="identify, alias, event (both ids on one event) or manual.",
               doc_fr="identify, alias, event (deux identifiants sur un même événement) ou manual."),
        Column("timestamp", "TIMESTAMP", doc_en="When the link was observed, UTC.", doc_fr="Date du lien, en UTC."),
        Column("status", "VARCHAR", max_length=16,
               doc_en="accepted, or refused when it would merge two known customers (unless forced).",
               doc_fr="accepted, ou refused quand il fusionnerait deux clients connus (sauf forçage)."),
        Column("reason", "VARCHAR", max_length=MAX_TEXT,
               doc_en="Why a link was refused.", doc_fr="Pourquoi un lien a été refusé."),
    ),
    doc_en="Links between ids of one person; stitched journeys follow the accepted ones.",
    doc_fr="Liens entre identifiants d'une même personne ; les parcours suivent les liens acceptés.",
)

TABLES: dict[str, Table] = {t.name: t for t in (EVENTS, CUSTOMERS, FEEDBACK, SPEND, IDENTITIES)}
#: what `parcours import --kind` accepts; `segment` is a message format feeding several tables.
IMPORT_KINDS = ("events", "customers", "feedback", "spend", "segment")
