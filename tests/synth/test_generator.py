"""The demo data generator: schema, determinism, calibration, frictions, verbatims."""

from __future__ import annotations

import hashlib
import json
import re

import duckdb
import numpy as np
import pytest
from scipy.stats import chi2_contingency

from parcours.data.schema import TABLES
from parcours.errors import ConfigError
from parcours.synth import KINDS, generate, load_config
from parcours.synth.texts import MARKERS
from parcours.synth.world import EVENTS

from . import measure

pytestmark = pytest.mark.slow


def _describe(path):
    return [(r[0], r[1]) for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]


def _expected(name):
    # JSON columns are written as text (VARCHAR); the store types them as JSON on import
    return [(c.name, "VARCHAR" if c.type == "JSON" else c.type) for c in TABLES[name].columns]


@pytest.mark.parametrize("name", ["events", "customers", "feedback", "spend"])
def test_parquet_schema_is_canonical(default_set, name):
    out, _ = default_set
    assert _describe(out / f"{name}.parquet") == _expected(name)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_have_canonical_columns_and_utc_times(tmp_path, fmt):
    r = generate(tmp_path, customers=500, seed=3, format=fmt)
    con = measure.connect(tmp_path, fmt)
    for name in ("events", "customers", "feedback", "spend"):
        cols = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall()]
        assert cols == TABLES[name].names
    first = (tmp_path / f"events.{fmt}").read_text(encoding="utf-8").splitlines()[1]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first)
    assert r.events == con.execute("SELECT count(*) FROM events").fetchone()[0]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_imports_without_rejects(tmp_path, fmt):
    from parcours.data.importer import import_file
    from parcours.data.store import Store

    generate(tmp_path / "d", customers=1500, seed=5, format=fmt)
    with Store(tmp_path / "s.duckdb") as store:
        for kind in ("customers", "events", "feedback", "spend"):
            rep = import_file(store, tmp_path / "d" / f"{kind}.{fmt}", kind)
            assert rep.rejected == 0, (kind, rep.rejects[:3])
            assert rep.imported > 0


def test_values_are_sane(default_set):
    out, report = default_set
    con = measure.connect(out)
    assert set(r[0] for r in con.execute("SELECT DISTINCT event FROM events").fetchall()) == set(EVENTS)
    assert con.execute("SELECT count(*) FROM events WHERE customer_id IS NULL AND anonymous_id IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM events WHERE NOT json_valid(properties)").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM customers WHERE NOT json_valid(attributes)").fetchone()[0] == 0
    lo, hi = con.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchone()
    assert str(lo) >= "2025-01-01" and str(hi) < "2026-01-01"
    # event ids are unique; every customer of the events is in customers
    assert con.execute("SELECT count(*) - count(DISTINCT event_id) FROM events").fetchone()[0] == 0
    assert con.execute("""SELECT count(DISTINCT customer_id) FROM events
                          WHERE customer_id NOT IN (SELECT customer_id FROM customers)""").fetchone()[0] == 0
    # feedback scales
    bad = con.execute("""SELECT count(*) FROM feedback WHERE (kind='nps' AND score NOT BETWEEN 0 AND 10)
        OR (kind='csat' AND score NOT BETWEEN 1 AND 5) OR (kind='ces' AND score NOT BETWEEN 1 AND 7)
        OR (kind='review' AND score NOT BETWEEN 1 AND 5)""").fetchone()[0]
    assert bad == 0
    # several devices, anonymous browsing before sign-in, B2B accounts with several people
    assert con.execute("""SELECT count(*) FROM (SELECT customer_id FROM links GROUP BY 1
                          HAVING count(*) >= 2)""").fetchone()[0] > 100
    assert con.execute("""SELECT count(*) FROM (SELECT account_id FROM customers WHERE account_id IS NOT NULL
                          GROUP BY 1 HAVING count(*) >= 2)""").fetchone()[0] > 20
    # channel switch web -> store
    assert con.execute("""SELECT count(DISTINCT person) FROM pev WHERE channel='store' AND person IN
                          (SELECT person FROM pev WHERE channel='web')""").fetchone()[0] > 100
    # spend per day, channel and campaign, and acquisition channels to compute CAC
    assert con.execute("SELECT count(DISTINCT channel), min(amount) > 0 FROM spend").fetchone() == (5, True)
    assert report.to_dict()["events"] == con.execute("SELECT count(*) FROM events").fetchone()[0]


def _digest(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_same_bytes(tmp_path, fmt):
    a = generate(tmp_path / "a", customers=3000, seed=42, format=fmt, chunk_size=1000)
    b = generate(tmp_path / "b", customers=3000, seed=42, format=fmt, chunk_size=1000)
    c = generate(tmp_path / "c", customers=3000, seed=43, format=fmt, chunk_size=1000)
    assert a.events == b.events
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")[f"events.{fmt}"] != _digest(tmp_path / "c")[f"events.{fmt}"]


def _check_calibration(out):
    con = measure.connect(out)
    cal = measure.calibration(con)
    assert cal["people"] == 20_000
    assert abs(cal["awareness_abandonment"] - 0.38) <= 0.02, cal
    assert abs(cal["consideration_abandonment"] - 0.29) <= 0.02, cal
    assert abs(cal["visit_conversion"] - 0.029) <= 0.002, cal
    return con, cal


def test_calibration_base_world(plain_set):
    out, _ = plain_set
    con, _ = _check_calibration(out)
    # Baymard: reasons named in the exit survey of cart abandoners
    marks = MARKERS["fr"]
    n, ship, acc, long_ = con.execute(f"""
        SELECT count(*), avg((text ILIKE '%{marks["shipping_fees"]}%')::INT),
               avg((text ILIKE '%{marks["account_forced"]}%')::INT), avg((text ILIKE '%{marks["checkout_long"]}%')::INT)
        FROM feedback WHERE kind = 'verbatim'""").fetchone()
    assert n > 1000
    assert abs(ship - 0.60) <= 0.02 and abs(acc - 0.37) <= 0.02 and abs(long_ - 0.28) <= 0.02, (ship, acc, long_)
    # IPSOS: dissatisfied (CSAT 1-2) after complaints and cancellations
    comp, canc = con.execute("""
        SELECT avg((score <= 2)::INT) FILTER (touchpoint = 'complaint_followup'),
               avg((score <= 2)::INT) FILTER (touchpoint = 'cancellation_followup')
        FROM feedback WHERE kind = 'csat'""").fetchone()
    assert abs(comp - 0.30) <= 0.02 and abs(canc - 0.36) <= 0.02, (comp, canc)
    # a realistic NPS: every score used, NPS between 0 and 50
    scores = dict(con.execute("SELECT score, count(*) FROM feedback WHERE kind='nps' GROUP BY 1").fetchall())
    assert len(scores) == 11
    total = sum(scores.values())
    nps = (sum(v for k, v in scores.items() if k >= 9) - sum(v for k, v in scores.items() if k <= 6)) / total
    assert 0.0 < nps < 0.5


def test_calibration_holds_with_default_frictions(default_set):
    out, _ = default_set
    _check_calibration(out)


def _person_attrs(con):
    con.execute("""CREATE OR REPLACE TABLE pattr AS SELECT r.*, c.attributes->>'segment' AS segment,
                   c.attributes->>'acquisition_channel' AS acq, c.attributes->>'profile' AS profile
                   FROM reach r JOIN customers c ON c.customer_id = r.person""")


def _p(con, by, cond, base):
    rows = con.execute(f"""SELECT {by}, count(*) FILTER ({cond}), count(*) FILTER (NOT ({cond}))
                           FROM pattr WHERE {base} GROUP BY 1 ORDER BY 1""").fetchall()
    table = np.array([[r[1], r[2]] for r in rows])
    return chi2_contingency(table)[1], rows


def test_no_frictions_no_outliers(plain_set):
    out, _ = plain_set
    con = measure.connect(out)
    _person_attrs(con)
    for by in ("segment", "acq", "profile"):
        p, rows = _p(con, by, "s2", "s1")
        assert p > 0.001, (by, rows)
        p, rows = _p(con, by, "bought", "s2")
        assert p > 0.001, (by, rows)
    # the checkout steps: abandonment at each touchpoint does not depend on the channel
    rows = con.execute("""
        WITH ck AS (SELECT person, channel, max(CASE touchpoint WHEN 'cart' THEN 0 WHEN 'checkout' THEN 1
                      WHEN 'shipping_options' THEN 2 WHEN 'account_form' THEN 3 WHEN 'payment_page' THEN 4 END) AS step,
                      bool_or(event = 'purchase') AS bought
                    FROM pev WHERE json_extract(properties, '$.session_id') IS NOT NULL
                      AND touchpoint IN ('cart','checkout','shipping_options','account_form','payment_page','confirmation')
                    GROUP BY person, channel, json_extract(properties, '$.session_id'))
        SELECT channel, count(*) FILTER (bought), count(*) FILTER (NOT bought) FROM ck GROUP BY 1""").fetchall()
    assert chi2_contingency(np.array([[r[1], r[2]] for r in rows]))[1] > 0.001, rows
    # no support touchpoint concentrates negative feedback beyond noise
    rows = con.execute("""SELECT touchpoint, count(*) FILTER (score <= 2), count(*) FILTER (score > 2)
                          FROM feedback WHERE kind = 'csat'
                            AND touchpoint IN ('call_center', 'chat_widget', 'support_email')
                          GROUP BY 1""").fetchall()
    assert len(rows) == 3
    assert chi2_contingency(np.array([[r[1], r[2]] for r in rows]))[1] > 0.001, rows
    # nor does any segment or profile in NPS
    con.execute("""CREATE TABLE nps AS SELECT f.score, c.attributes->>'segment' AS segment,
                   c.attributes->>'profile' AS profile, c.attributes->>'acquisition_channel' AS acq
                   FROM feedback f JOIN customers c USING (customer_id) WHERE f.kind = 'nps'""")
    for by in ("segment", "profile", "acq"):
        rows = con.execute(f"""SELECT {by}, count(*) FILTER (score <= 6), count(*) FILTER (score > 6)
                               FROM nps GROUP BY 1""").fetchall()
        assert chi2_contingency(np.array([[r[1], r[2]] for r in rows]))[1] > 0.001, (by, rows)


def test_frictions_show_in_truth_and_data(default_set):
    out, _ = default_set
    truth = json.loads((out / "truth.json").read_text())
    frs = {f["id"]: f for f in truth["frictions"]}
    assert len({f["kind"] for f in frs.values()}) >= 8
    for f in frs.values():
        assert f["affected"]["count"] == len(f["affected"]["ids"]) > 0, f["id"]
        assert f["kind"] in KINDS and f["effects"], f["id"]
        e = f["effects"][0]
        if f["kind"] in ("drop_off", "surprise_cost", "forced_account", "long_checkout"):
            assert e["difference"] > 0.05, f
        elif f["kind"] == "audience_mismatch":
            assert all(x["difference"] < -0.05 for x in f["effects"]), f
        elif f["kind"] in ("slowness", "silo", "price_inconsistency"):
            assert e["affected"] > 1.3 * e["others"] or e["others"] == 0, f
        elif f["kind"] == "loop":
            assert f["effects"][1]["difference"] > 1, f
        elif f["kind"] == "negative_feedback":
            assert e["difference"] < -0.15, f
        elif f["kind"] == "superfluous_step":
            assert abs(e["difference"]) < 0.03, f
    con = measure.connect(out)
    # surprise cost: shipping cost 9.99 at the shipping step in the window, more abandonment there
    inside, outside = con.execute("""
        WITH s AS (SELECT json_extract(properties,'$.session_id') AS sid, min(timestamp) AS t,
                          bool_or(event='purchase') AS bought, bool_or(touchpoint='shipping_options') AS ship
                   FROM events WHERE channel='web' AND json_extract(properties,'$.session_id') IS NOT NULL
                   GROUP BY 1 HAVING bool_or(event='add_to_cart') AND bool_or(touchpoint='shipping_options'))
        SELECT avg((NOT bought)::INT) FILTER (t BETWEEN '2025-06-01' AND '2025-08-01'),
               avg((NOT bought)::INT) FILTER (t NOT BETWEEN '2025-06-01' AND '2025-08-01') FROM s""").fetchone()
    assert inside > outside + 0.05
    # slowness: deliveries around Christmas take longer
    slow, normal = con.execute("""
        WITH d AS (SELECT p.properties->>'order_id' AS o, p.timestamp AS tp, d.timestamp AS td
                   FROM events p JOIN events d ON d.event='order_delivered'
                     AND d.properties->>'order_id' = p.properties->>'order_id'
                   WHERE p.event='purchase')
        SELECT avg(epoch(td - tp)) FILTER (tp BETWEEN '2025-11-24' AND '2025-12-25'),
               avg(epoch(td - tp)) FILTER (tp < '2025-11-01') FROM d""").fetchone()
    assert slow > 1.5 * normal
    # price inconsistency: one product, two prices (web vs store)
    n_two = con.execute("""SELECT count(*) FROM (SELECT properties->>'product_id' AS p
        FROM events WHERE event='product_view' GROUP BY 1
        HAVING count(DISTINCT CAST(properties->>'price' AS DOUBLE)) >= 2)""").fetchone()[0]
    assert n_two > 10


def test_no_friction_set_has_no_price_mismatch(plain_set):
    out, _ = plain_set
    con = measure.connect(out)
    n_two = con.execute("""SELECT count(*) FROM (SELECT properties->>'product_id' AS p
        FROM events WHERE event='product_view' GROUP BY 1
        HAVING count(DISTINCT CAST(properties->>'price' AS DOUBLE)) >= 2)""").fetchone()[0]
    assert n_two == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["frictions"] == []


def test_verbatims_vary_and_follow_what_was_lived(default_set):
    out, _ = default_set
    con = measure.connect(out)
    assert con.execute("SELECT count(DISTINCT text) FROM feedback").fetchone()[0] >= 200
    assert con.execute("SELECT count(*) FROM feedback WHERE text IS NOT NULL AND language <> 'fr'").fetchone()[0] == 0
    # people with a delivery problem write about late deliveries; others hardly ever
    late_with, late_without = con.execute("""
        WITH dp AS (SELECT DISTINCT customer_id FROM events WHERE event='delivery_problem')
        SELECT avg((text ILIKE '%retard%')::INT) FILTER (customer_id IN (SELECT customer_id FROM dp)),
               avg((text ILIKE '%retard%')::INT) FILTER (customer_id NOT IN (SELECT customer_id FROM dp))
        FROM feedback WHERE kind IN ('nps', 'review', 'csat', 'complaint') AND text IS NOT NULL""").fetchone()
    assert late_with > 0.3 and late_without < 0.05, (late_with, late_without)
    # surprise shipping costs -> complaints about fees at the shipping step
    fees = con.execute("""SELECT avg((text ILIKE '%frais de livraison%')::INT) FROM feedback
                          WHERE kind='verbatim' AND touchpoint='shipping_options'""").fetchone()[0]
    assert fees > 0.9


def test_locale_en(tmp_path):
    generate(tmp_path, customers=2000, seed=2, locale="en")
    con = measure.connect(tmp_path)
    texts = [r[0] for r in con.execute("SELECT text FROM feedback WHERE text IS NOT NULL").fetchall()]
    assert texts
    assert con.execute("SELECT count(*) FROM feedback WHERE text IS NOT NULL AND language <> 'en'").fetchone()[0] == 0
    french = sum(bool(re.search(r"[éèàç]|livraison|commande", t)) for t in texts)
    assert french == 0
    assert con.execute("SELECT count(*) FROM customers WHERE attributes->>'language' <> 'en'").fetchone()[0] == 0


def test_bad_config(tmp_path):
    with pytest.raises(ConfigError):
        generate(tmp_path, customers=10, format="xlsx")
    bad = tmp_path / "f.yaml"
    bad.write_text("frictions:\n  - id: x\n    kind: teleport\n")
    with pytest.raises(ConfigError, match="teleport"):
        load_config(bad)
    bad.write_text("frictions:\n  - id: x\n    kind: drop_off\n    strength: 2\n")
    with pytest.raises(ConfigError, match="strength"):
        load_config(bad)
    bad.write_text("frictions:\n  - id: x\n    kind: drop_off\n    where: {planet: mars}\n")
    with pytest.raises(ConfigError, match="where"):
        load_config(bad)


def test_custom_friction_file(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text("""
frictions:
  - id: social-drop
    kind: drop_off
    where: {channel: social, stage: awareness}
    when: {from: 2025-01-01, to: 2025-12-31}
    strength: 0.5
""")
    generate(tmp_path / "o", customers=5000, seed=1, frictions=f)
    truth = json.loads((tmp_path / "o" / "truth.json").read_text())
    (fr,) = truth["frictions"]
    assert fr["id"] == "social-drop" and fr["when"] == {"from": "2025-01-01", "to": "2025-12-31"}
    assert fr["effects"][0]["difference"] < -0.2


def test_report(tmp_path):
    r = generate(tmp_path, customers=300, seed=0)
    d = r.to_dict()
    assert d["people"] == 300 and d["customers"] > 0 and d["events"] > 0 and d["spend"] == 365 * 5
    assert set(d["paths"]) == {"events", "customers", "feedback", "spend", "truth"}
    json.dumps(d)


def test_workers_do_not_change_the_output(tmp_path):
    a = generate(tmp_path / "a", customers=2000, seed=7, chunk_size=500, workers=1)
    b = generate(tmp_path / "b", customers=2000, seed=7, chunk_size=500, workers=2)
    assert a.events == b.events
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_other_friction_places(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text("""
frictions:
  - {id: slow-refund, kind: slowness, where: {event: refund}, strength: 0.8}
  - {id: churn, kind: drop_off, where: {stage: retention, segment: price_sensitive}, strength: 0.7}
  - {id: app-drop, kind: drop_off, where: {stage: consideration, channel: app}, strength: 0.4}
  - {id: chat-silo, kind: silo, where: {channel: chat}, strength: 0.5}
  - {id: b2b-nf, kind: negative_feedback, where: {channel: email, segment: b2b}, strength: 0.9}
  - {id: cookie-wall, kind: superfluous_step, where: {touchpoint: cookie_wall}, strength: 0.5}
""")
    generate(tmp_path / "o", customers=8000, seed=3, frictions=f, locale="en")
    truth = {x["id"]: x for x in json.loads((tmp_path / "o" / "truth.json").read_text())["frictions"]}
    e = {k: v["effects"][0] for k, v in truth.items()}
    assert e["slow-refund"]["affected"] > 2 * e["slow-refund"]["others"]
    assert e["churn"]["difference"] < -0.1
    assert e["app-drop"]["difference"] < -0.1
    assert e["chat-silo"]["difference"] > 0.5
    assert e["b2b-nf"]["difference"] < -0.2
    assert abs(e["cookie-wall"]["difference"]) < 0.05
    con = measure.connect(tmp_path / "o")
    assert con.execute("SELECT count(*) FROM events WHERE touchpoint = 'cookie_wall'").fetchone()[0] > 100
