"""`parcours segment ...`, `--segment` and `parcours compare` end to end on a real workspace."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from parcours.cli import app

runner = CliRunner()


def run(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def test_segment_commands_and_compare(tmp_path):
    d = tmp_path / "ws"
    run("init", d, "--lang", "en")
    rows = ["customer_id,timestamp,event,channel,value"]
    custs = []
    for i in range(30):
        c, seg = f"c{i:02}", "b2b" if i < 10 else "b2c"
        custs.append(json.dumps({"customer_id": c, "attributes": {"segment": seg}}))
        rows.append(f"{c},2024-03-0{1 + i % 5}T10:00:00Z,product_view,web,")
        if i % 2 == 0:
            rows.append(f"{c},2024-03-0{1 + i % 5}T11:00:00Z,purchase,web,{20 + i}")
    (tmp_path / "e.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("\n".join(custs) + "\n", encoding="utf-8")
    run("import", d, tmp_path / "c.jsonl", "--kind", "customers")
    run("import", d, tmp_path / "e.csv")

    assert "Segment b2b saved: 10 people." in run("segment", "add", d, "b2b", "--rule", "segment = b2b", "--lang", "en").output
    assert "Segment b2c enregistré : 20 personnes." in run("segment", "add", d, "b2c", "--rule", "segment = b2c",
                                                         "--lang", "fr").output
    scores = json.loads(run("segment", "rfm", d, "--json").output)
    assert len(scores["scores"]) == 15 and sum(scores["segments"].values()) == 15  # the 15 buyers
    assert "champions" in run("segment", "rfm", d).output
    saved = json.loads(run("segment", "add", d, "top", "--rfm", "new", "--json").output)
    assert saved[0]["kind"] == "rfm" and saved[0]["members"] == scores["segments"]["new"] > 0
    clusters = json.loads(run("segment", "add", d, "cl", "--cluster", "2", "--json").output)
    assert [c["name"] for c in clusters] == ["cl-1", "cl-2"] and sum(c["members"] for c in clusters) == 30
    listed = json.loads(run("segment", "list", d, "--json").output)
    assert [s["name"] for s in listed["segments"]] == ["b2b", "b2c", "cl-1", "cl-2", "top"]
    shown = json.loads(run("segment", "show", d, "b2b", "--json").output)
    assert shown["persons"] == [f"c{i:02}" for i in range(10)]

    funnel = json.loads(run("funnel", d, "-s", "product_view", "-s", "purchase", "--segment", "b2b", "--json").output)
    assert [s["count"] for s in funnel["steps"]] == [10, 5]
    assert json.loads(run("paths", d, "--segment", "b2c", "--json").output)["customers"] == 20
    kpis = json.loads(run("kpis", d, "--segment", "b2b", "--json").output)
    assert max(s["reach"] for s in kpis["stages"]) == 10
    assert json.loads(run("retention", d, "--segment", "b2b", "--json").output) is not None
    by = json.loads(run("funnel", d, "-s", "product_view", "-s", "purchase", "--by", "segments", "--json").output)
    assert [s["count"] for s in by["steps"]] == [30, 15]
    groups = {g["value"]: [s["count"] for s in g["steps"]] for g in by["breakdown"]}
    assert groups["b2b"] == [10, 5] and groups["b2c"] == [20, 10] and set(groups) == {"b2b", "b2c", "top", "cl-1", "cl-2"}
    by = json.loads(run("kpis", d, "--by", "segments", "--json").output)
    assert {g["group"]: max(s["reach"] for s in g["stages"]) for g in by["breakdown"]}["b2c"] == 20
    assert "cannot be combined" in run("kpis", d, "--by", "segments", "--segment", "b2b", code=2).output

    out = json.loads(run("compare", d, "--segment", "b2b", "--segment", "b2c", "-s", "product_view", "-s",
                         "purchase", "--json").output)
    assert out["segments"] == ["b2b", "b2c"]
    assert [s["a"]["count"] for s in out["funnel"]] == [10, 5] and [s["b"]["count"] for s in out["funnel"]] == [20, 10]
    assert not any(x["significant"] for x in out["differences"])  # both buy half the time
    assert "No significant difference." in run("compare", d, "--segment", "b2b", "--segment", "b2c", "--lang", "en").output

    # errors: one kind of definition at a time, two segments to compare, unknown names
    assert run("segment", "add", d, "x", "--lang", "en", code=2).exit_code == 2
    assert "exactly two segments" in run("compare", d, "--segment", "b2b", code=2).output
    assert "unknown segment 'nope'" in run("funnel", d, "-s", "purchase", "--segment", "nope", code=4).output
    assert "Segment top dropped." in run("segment", "drop", d, "top", "--lang", "en").output
    assert "top" not in [s["name"] for s in json.loads(run("segment", "list", d, "--json").output)["segments"]]
