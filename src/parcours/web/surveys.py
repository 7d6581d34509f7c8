"""Surveys: NPS, CSAT and CES questions asked on a company's own pages.

An analyst creates a survey (kind, question in French and English, optional free-text
question, the touchpoint and channel where it is asked). Customers answer through a small
embeddable script (``/s/{id}/widget.js``) or the hosted page (``/s/{id}``); both post to
``/s/{id}/responses``, which writes one row to ``feedback`` linked to the customer and the
touchpoint. That endpoint is public on purpose (the customer's browser has no key) and only
writes: it returns no customer data.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import ConfigError
from .errors import ApiError, responses
from .page_labels import lang_of, word

router = APIRouter()
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
DEFAULT_QUESTIONS = {
    "nps": ("Quelle est la probabilité que vous nous recommandiez à un proche ?",
            "How likely are you to recommend us to a friend?"),
    "csat": ("Êtes-vous satisfait de votre expérience ?", "How satisfied are you with your experience?"),
    "ces": ("Était-ce facile de faire ce que vous vouliez ?", "How easy was it to do what you wanted?"),
}
DDL = """CREATE TABLE IF NOT EXISTS surveys (
    survey_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, question_fr VARCHAR, question_en VARCHAR,
    free_text BOOLEAN NOT NULL, touchpoint VARCHAR, channel VARCHAR, created_by VARCHAR,
    created_at TIMESTAMP NOT NULL)"""
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


@dataclass(frozen=True)
class Survey:
    survey_id: str
    kind: str
    question_fr: str
    question_en: str
    free_text: bool
    touchpoint: str | None
    channel: str | None
    created_by: str | None
    created_at: dt.datetime
    answers: int = 0

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.kind]

    def question(self, lang: str) -> str:
        return self.question_fr if lang == "fr" else self.question_en

    def to_dict(self) -> dict:
        return {**asdict(self), "created_at": self.created_at.isoformat(), "scale": list(self.scale)}


def ensure_table(store) -> None:
    with store.transaction() as con:
        con.execute(DDL)


def create_survey(store, kind: str, *, question_fr: str = "", question_en: str = "", free_text: bool = False,
                  touchpoint: str | None = None, channel: str | None = None, created_by: str | None = None) -> Survey:
    if kind not in SCALES:
        raise ConfigError(f"survey kind must be one of {', '.join(SCALES)}, not {kind!r}")
    fr, en = DEFAULT_QUESTIONS[kind]
    survey = Survey(secrets.token_hex(6), kind, (question_fr or fr)[:500], (question_en or en)[:500], free_text,
                    (touchpoint or None) and touchpoint[:200], (channel or None) and channel[:200], created_by,
                    dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    with store.transaction() as con:
        con.execute("INSERT INTO surveys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [survey.survey_id, survey.kind, survey.question_fr, survey.question_en, survey.free_text,
                     survey.touchpoint, survey.channel, survey.created_by, survey.created_at])
    return survey


_COLUMNS = "survey_id, kind, question_fr, question_en, free_text, touchpoint, channel, created_by, created_at"


def list_surveys(store) -> list[Survey]:
    """Every survey with its number of answers (feedback rows whose id starts with its id)."""
    rows = store.fetch(f"SELECT {_COLUMNS}, (SELECT count(*) FROM feedback f WHERE f.feedback_id "
                       "LIKE 's-' || s.survey_id || '-%') FROM surveys s ORDER BY created_at DESC")
    return [Survey(*r) for r in rows]


def get_survey(store, survey_id: str) -> Survey | None:
    rows = store.fetch(f"SELECT {_COLUMNS} FROM surveys WHERE survey_id = ?", [survey_id[:40]])
    return Survey(*rows[0]) if rows else None


def record_answer(store, survey: Survey, answer: dict) -> str:
    """Check ``answer`` (score, text, customer_id, lang) and write it to ``feedback``; its id."""
    low, high = survey.scale
    score = answer.get("score")
    if isinstance(score, str) and score.strip().lstrip("-").isdigit():
        score = int(score)
    if not isinstance(score, int) or isinstance(score, bool) or not low <= score <= high:
        raise ApiError(400, f"score must be a whole number from {low} to {high}", field="score")
    text = answer.get("text") or None
    if text is not None and (not isinstance(text, str) or len(text) > 5000):
        raise ApiError(400, "text must be at most 5000 characters", field="text")
    if text and not survey.free_text:
        text = None
    customer = answer.get("customer_id") or None
    if customer is not None and (not isinstance(customer, str) or len(customer) > 200):
        raise ApiError(400, "customer_id must be text of at most 200 characters", field="customer_id")
    touchpoint = answer.get("touchpoint") or survey.touchpoint
    if touchpoint is not None and (not isinstance(touchpoint, str) or len(touchpoint) > 200):
        raise ApiError(400, "touchpoint must be text of at most 200 characters", field="touchpoint")
    feedback_id = f"s-{survey.survey_id}-{secrets.token_hex(8)}"
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.transaction() as con:
        con.execute("INSERT INTO feedback (feedback_id, customer_id, \"timestamp\", kind, score, text, language, "
                    "channel, touchpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [feedback_id, customer, now, survey.kind, float(score), text, lang_of(answer.get("lang")),
                     survey.channel, touchpoint])
    return feedback_id


# -- routes ----------------------------------------------------------------------------------
def _store(request: Request):
    return request.app.state.server.reader()


async def _survey(request: Request, survey_id: str) -> Survey:
    survey = await anyio.to_thread.run_sync(get_survey, _store(request), survey_id)
    if survey is None:
        raise ApiError(404, f"no survey {survey_id!r}")
    return survey


@router.post("/app/surveys", include_in_schema=False)
async def create(request: Request) -> Response:
    from .pages import first, posted

    session, data = await posted(request, "analyst")
    await anyio.to_thread.run_sync(lambda: create_survey(
        _store(request), first(data, "kind"), question_fr=first(data, "question_fr").strip(),
        question_en=first(data, "question_en").strip(), free_text=first(data, "free_text") == "on",
        touchpoint=first(data, "touchpoint").strip(), channel=first(data, "channel").strip(),
        created_by=session.user.name))
    return RedirectResponse("/app/surveys", status_code=303)


@router.get("/s/{survey_id}", include_in_schema=False)
async def hosted(request: Request, survey_id: str, customer: str = "", touchpoint: str = "",
                 lang: str = "fr") -> HTMLResponse:
    """The survey on its own page (a link in an e-mail or a text message)."""
    from .pages import templates

    survey, lang = await _survey(request, survey_id), lang_of(lang)
    html = templates().get_template("survey.html").render(
        survey=survey, lang=lang, customer=customer, touchpoint=touchpoint,
        words={k: word(k, lang) for k in ("send", "thanks", "comment", "surveys")})
    return HTMLResponse(html)


WIDGET = (Path(__file__).parent / "static" / "widget.js")


@router.get("/s/{survey_id}/widget.js", include_in_schema=False)
async def widget(request: Request, survey_id: str) -> Response:
    """The embeddable script: ``<script src=".../s/ID/widget.js" data-customer="C1" data-lang="en">``."""
    survey = await _survey(request, survey_id)
    config = {"id": survey.survey_id, "scale": list(survey.scale), "free_text": survey.free_text,
              "question": {"fr": survey.question_fr, "en": survey.question_en},
              "words": {lang: {k: word(k, lang) for k in ("send", "thanks", "comment")} for lang in ("fr", "en")}}
    script = WIDGET.read_text(encoding="utf-8").replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "public, max-age=300", **CORS})


@router.options("/s/{survey_id}/responses", include_in_schema=False)
async def preflight(survey_id: str) -> Response:
    return Response(status_code=204, headers=CORS)


@router.post("/s/{survey_id}/responses", tags=["surveys"], responses=responses(400, 404, 413))
async def respond(request: Request, survey_id: str) -> JSONResponse:
    """One answer: ``{"score": 9, "text": "...", "customer_id": "C1", "touchpoint": "checkout", "lang": "en"}``."""
    body = await request.body()
    if len(body) > 16 * 1024:
        raise ApiError(413, "an answer is at most 16 KB")
    try:
        answer = json.loads(body)
    except ValueError:
        raise ApiError(400, "the body must be a JSON object") from None
    if not isinstance(answer, dict):
        raise ApiError(400, "the body must be a JSON object")
    survey = await _survey(request, survey_id)
    feedback_id = await anyio.to_thread.run_sync(record_answer, _store(request), survey, answer)
    request.app.state.results.local_writes += 1  # feedback changed: cached results are stale
    return JSONResponse({"success": True, "feedback_id": feedback_id}, headers=CORS)


__all__ = ["Survey", "create_survey", "list_surveys", "get_survey", "record_answer", "router", "SCALES"]
