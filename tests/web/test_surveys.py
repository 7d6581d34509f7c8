"""Surveys: answers checked against a plain-Python reference of what is accepted and stored,
on a real store; the public response endpoint over a real server (CORS, errors, no data out)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.data.store import Store
from parcours.web.errors import ApiError
from parcours.web.surveys import SCALES, create_survey, ensure_table, list_surveys, record_answer

from .dashboard_support import csrf_of, session_client

SCORES = st.one_of(st.integers(-3, 12), st.none(), st.booleans(), st.floats(0, 10), st.sampled_from(["7", "x", ""]))
TEXTS = st.one_of(st.none(), st.text(max_size=20), st.integers())
IDS = st.one_of(st.none(), st.sampled_from(["C1", "C2", ""]), st.text(min_size=201, max_size=202))


def reference(kind: str, free_text: bool, touchpoint: str | None, answer: dict):
    """What should be stored for ``answer`` (a tuple), or None when it must be refused."""
    low, high = SCALES[kind]
    score = answer.get("score")
    if isinstance(score, str) and score.strip().lstrip("-").isdigit():
        score = int(score)
    if type(score) is not int or not low <= score <= high:
        return None
    text = answer.get("text") or None
    if text is not None and not isinstance(text, str):
        return None
    customer = answer.get("customer_id") or None
    if customer is not None and len(customer) > 200:
        return None
    return (customer, kind, float(score), text if free_text else None, answer.get("lang") if answer.get("lang") in ("fr", "en") else "fr",
            "web", answer.get("touchpoint") or touchpoint)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("surveys") / "s.duckdb")
    ensure_table(s)
    yield s
    s.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(SCALES)), free_text=st.booleans(), touchpoint=st.sampled_from([None, "checkout"]),
       answers=st.lists(st.fixed_dictionaries({"score": SCORES}, optional={
           "text": TEXTS, "customer_id": IDS, "lang": st.sampled_from(["fr", "en", "de"]),
           "touchpoint": st.sampled_from(["", "faq"])}), max_size=4))
def test_answers_match_the_reference(store, kind, free_text, touchpoint, answers):
    survey = create_survey(store, kind, free_text=free_text, touchpoint=touchpoint, channel="web")
    expected = []
    for answer in answers:
        want = reference(kind, free_text, touchpoint, answer)
        if want is None:
            with pytest.raises(ApiError) as err:
                record_answer(store, survey, answer)
            assert err.value.status == 400 and err.value.field in ("score", "text", "customer_id")
        else:
            record_answer(store, survey, answer)
            expected.append(want)
    got = store.fetch("SELECT customer_id, kind, score, text, language, channel, touchpoint FROM feedback "
                      "WHERE feedback_id LIKE ? ORDER BY feedback_id", [f"s-{survey.survey_id}-%"])
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert {s.survey_id: s.answers for s in list_surveys(store)}[survey.survey_id] == len(expected)


def test_default_questions_in_both_languages(store):
    s = create_survey(store, "ces")
    assert s.question("fr").startswith("Était-ce facile") and s.question("en").startswith("How easy")
    with pytest.raises(Exception, match="nps, csat, ces"):
        create_survey(store, "stars")


def test_response_endpoint_over_a_real_server(live):
    server = live(start=False)
    from parcours.web.users import add_user
    from parcours.workspace import Workspace

    with Workspace.open(server.path) as ws:
        add_user(ws.store, "ana", "analyst", "correct-horse-battery")
    server.start()
    with session_client(server, "ana", "correct-horse-battery") as ana:
        token = csrf_of(ana.get("/app/surveys").text)
        assert ana.post("/app/surveys", data={"kind": "csat", "csrf": token, "touchpoint": "delivery"}).status_code == 303
        page = ana.get("/app/surveys").text
    survey_id = page.split('data-survey="', 1)[1].split('"', 1)[0]
    with server.client() as anyone:  # no key, no session: a customer's browser
        pre = anyone.options(f"/s/{survey_id}/responses", headers={"Origin": "https://shop.example",
                                                                   "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
        r = anyone.post(f"/s/{survey_id}/responses", json={"score": 4, "customer_id": "C9"})
        assert r.status_code == 200 and set(r.json()) == {"success", "feedback_id"}
        assert r.headers["access-control-allow-origin"] == "*"
        assert anyone.post(f"/s/{survey_id}/responses", json={"score": 6}).json()["field"] == "score"
        assert anyone.post(f"/s/{survey_id}/responses", content=b"{nope").status_code == 400
        assert anyone.post(f"/s/{survey_id}/responses", json=[1]).status_code == 400
        assert anyone.post("/s/000000000000/responses", json={"score": 4}).status_code == 404
        assert anyone.post(f"/s/{survey_id}/responses", content=b"x" * 20000).status_code == 413
        js = anyone.get(f"/s/{survey_id}/widget.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert '"scale": [1, 5]' in js.text and "__CONFIG__" not in js.text
        hosted = anyone.get(f"/s/{survey_id}?lang=en&customer=C9")
        assert hosted.status_code == 200 and 'data-customer="C9"' in hosted.text
        assert anyone.get("/app/surveys").status_code == 303  # the list itself needs a login
    assert server.rows("SELECT customer_id, kind, score, touchpoint FROM feedback") == [("C9", "csat", 4.0, "delivery")]
