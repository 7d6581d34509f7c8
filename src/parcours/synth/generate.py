"""``generate()``: simulate people chunk by chunk and stream the four tables plus truth.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import ConfigError
from . import texts as T
from . import world as W
from .engine import DAY, Ctx, Effect, simulate
from .frictions import load_config

FORMATS = ("parquet", "csv", "jsonl")
CHUNK = 25_000
TABLES = ("events", "customers", "feedback", "spend")

SCHEMAS = {
    "events": pa.schema([("event_id", pa.string()), ("customer_id", pa.string()), ("anonymous_id", pa.string()),
                         ("account_id", pa.string()), ("timestamp", pa.timestamp("us")), ("event", pa.string()),
                         ("channel", pa.string()), ("touchpoint", pa.string()), ("value", pa.float64()),
                         ("currency", pa.string()), ("properties", pa.string())]),
    "customers": pa.schema([("customer_id", pa.string()), ("account_id", pa.string()),
                            ("created_at", pa.timestamp("us")), ("attributes", pa.string())]),
    "feedback": pa.schema([("feedback_id", pa.string()), ("customer_id", pa.string()), ("timestamp", pa.timestamp("us")),
                           ("kind", pa.string()), ("score", pa.float64()), ("text", pa.string()),
                           ("language", pa.string()), ("channel", pa.string()), ("touchpoint", pa.string())]),
    "spend": pa.schema([("date", pa.date32()), ("channel", pa.string()), ("campaign", pa.string()),
                        ("amount", pa.float64()), ("currency", pa.string())]),
}


@dataclass
class GenerateReport:
    out_dir: Path
    format: str
    seed: int
    locale: str
    people: int = 0
    customers: int = 0
    events: int = 0
    feedback: int = 0
    spend: int = 0
    seconds: float = 0.0
    paths: dict = field(default_factory=dict)
    frictions: list = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "format": self.format, "seed": self.seed, "locale": self.locale,
                "people": self.people, "customers": self.customers, "events": self.events,
                "feedback": self.feedback, "spend": self.spend, "seconds": round(self.seconds, 3),
                "events_per_second": round(self.events_per_second),
                "paths": {k: str(v) for k, v in self.paths.items()}, "frictions": list(self.frictions)}


class _Writer:
    """One output table, appended chunk by chunk."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema):
        self.path, self.fmt, self.schema = path, fmt, schema
        self.rows = 0
        self._pq = None
        self._fh = None
        if fmt == "parquet":
            # dictionary encoding only where values repeat (not ids, texts or JSON)
            low = ("customer_id", "anonymous_id", "account_id", "event", "channel", "touchpoint", "currency",
                   "kind", "language", "campaign")
            self._pq = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1,
                                        use_dictionary=[n for n in schema.names if n in low],
                                        write_statistics=[n for n in ("timestamp", "date", "customer_id", "event") if n in schema.names])
        else:
            self._fh = open(path, "wb")
            if fmt == "csv":
                self._fh.write((",".join(schema.names) + "\n").encode())

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        if self._pq is not None:
            self._pq.write_table(table)
            return
        df = pl.from_arrow(table)
        exprs = []
        for name, typ in zip(self.schema.names, self.schema.types):
            if pa.types.is_timestamp(typ):
                exprs.append(pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
            elif pa.types.is_date(typ):
                exprs.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        if exprs:
            df = df.with_columns(exprs)
        if self.fmt == "csv":
            df.write_csv(self._fh, include_header=False)
        else:
            df.write_ndjson(self._fh)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._fh is not None:
            self._fh.close()


def _take(names, codes: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """names[codes] as an Arrow string array; rows in null_mask (default: codes < 0) are null."""
    if isinstance(names, pa.Array):
        dictionary = pa.concat_arrays([names.cast(pa.string()), pa.array([None], pa.string())])
        size = len(names)
    else:
        dictionary = pa.array(list(names) + [None], pa.string())
        size = len(names)
    codes = np.asarray(codes, dtype=np.int64)
    if null_mask is None:
        null_mask = codes < 0
    return pc.take(dictionary, pa.array(np.where(null_mask, size, codes)))


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000, pa.timestamp("us"))


def _float(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=float), pa.float64(), from_pandas=True)


def _fmt_num(v) -> str:
    if isinstance(v, float):
        return repr(round(v, 2))
    return str(v)


PRODUCT_IDS = [f"P{i + 1:04d}" for i in range(W.N_PRODUCTS)]


def _num_spec(key, values, present, prefix=None):
    """(entries, index per row or -1): '"key":value' for each distinct value."""
    uniq, inv = np.unique(values[present], return_inverse=True)
    if prefix is None:
        entries = [f'"{key}":{_fmt_num(u.item())}' for u in uniq]
    else:
        entries = [f'"{key}":"{prefix}{_fmt_num(u.item())}"' for u in uniq]
    idx = np.full(len(values), -1, dtype=np.int64)
    idx[present] = inv.reshape(-1)
    return entries, idx


def _cat_spec(key, names, codes):
    return [f'"{key}":"{x}"' for x in names], np.where(codes < 0, -1, codes).astype(np.int64)


def _join(specs, lead: np.ndarray | None = None) -> pa.Array:
    """Comma-joined JSON members of several specs; a member gets a leading comma when an earlier
    one is present (``lead``: rows where something comes before all of them)."""
    n = len(specs[0][1])
    before = np.zeros(n, dtype=bool) if lead is None else lead.copy()
    parts = []
    for entries, idx in specs:
        present = idx >= 0
        table = pa.array([""] + entries + ["," + e for e in entries], pa.string())
        take_idx = np.where(present, 1 + idx + len(entries) * before, 0)
        parts.append(pc.take(table, pa.array(take_idx)))
        before |= present
    return pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]


def _properties(E: dict, devtype: np.ndarray) -> pa.Array:
    """The properties JSON of each event, built column-wise (no per-row Python)."""
    sess = E["session"]
    has_s = sess >= 0
    s_str = pc.binary_join_element_wise('"session_id":', pc.cast(pa.array(sess), pa.string()), "")
    p_sess = pc.if_else(pa.array(~has_s), pa.scalar(""), s_str)
    main = [
        _cat_spec("device", W.DEVICES, devtype),
        _cat_spec("campaign", W.CAMPAIGNS, E["campaign"]),
        _cat_spec("product_id", PRODUCT_IDS, E["product"]),
        _num_spec("price", E["price"], ~np.isnan(E["price"])),
        _num_spec("quantity", E["qty"], E["qty"] >= 0),
        _num_spec("shipping_cost", E["ship"], ~np.isnan(E["ship"])),
    ]
    # one code per row for the combination of the frequent members, one string per distinct
    # combination: a single take instead of one per member
    key = np.zeros(len(sess), dtype=np.int64)
    for entries, idx in main:
        key = key * (len(entries) + 1) + (idx + 1)
    uniq, inv = np.unique(key, return_inverse=True)
    combos = []
    for k in uniq.tolist():
        members = []
        for entries, _ in reversed(main):
            k, r = divmod(k, len(entries) + 1)
            if r:
                members.append(entries[r - 1])
        combos.append(",".join(reversed(members)))
    table = pa.array(combos + [("," + c if c else "") for c in combos], pa.string())
    p_main = pc.take(table, pa.array(inv.reshape(-1) + len(combos) * has_s))
    before = has_s | (key != 0)
    # the rare members (orders, tickets, loyalty, checkout steps) are joined on their rows only
    rare_cols = {"order": E["order"] >= 0, "ticket": E["ticket"] >= 0, "matter": E["matter"] >= 0,
                 "points": E["points"] >= 0, "balance": E["balance"] >= 0, "tier": E["tier"] >= 0,
                 "step": E["step"] >= 0}
    rows = np.zeros(len(sess), dtype=bool)
    for m in rare_cols.values():
        rows |= m
    r = np.nonzero(rows)[0]
    if len(r):
        rare = [
            _num_spec("order_id", E["order"][r], rare_cols["order"][r], prefix="O"),
            _num_spec("ticket_id", E["ticket"][r], rare_cols["ticket"][r], prefix="T"),
            _cat_spec("matter", W.MATTERS, E["matter"][r]),
            _num_spec("points", E["points"][r], rare_cols["points"][r]),
            _num_spec("points_balance", E["balance"][r], rare_cols["balance"][r]),
            _cat_spec("tier", W.TIERS, E["tier"][r]),
            _num_spec("checkout_step", E["step"][r], rare_cols["step"][r]),
        ]
        rs = _join(rare)
        table = pa.concat_arrays([pa.array([""], pa.string()), rs,
                                  pc.binary_join_element_wise(",", rs, "")])
        idx = np.zeros(len(sess), dtype=np.int64)
        idx[r] = 1 + np.arange(len(r)) + len(r) * before[r]
        p_rare = pc.take(table, pa.array(idx))
    else:
        p_rare = pa.array([""] * len(sess), pa.string())
    return pc.binary_join_element_wise("{", p_sess, p_main, p_rare, "}", "")


def _seq_ids(prefix: str, first: int, n: int, width: int) -> pa.Array:
    """prefix + zero-padded first..first+n-1, built as one byte buffer (no per-row Python)."""
    nums = np.arange(first, first + n, dtype=np.int64)
    if n and nums[-1] >= 10**width:
        width = len(str(int(nums[-1])))
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = len(pre) + width
    buf = np.empty((n, row), dtype=np.uint8)
    buf[:, :len(pre)] = pre
    rest = nums.copy()
    for k in range(width - 1, -1, -1):
        buf[:, len(pre) + k] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())])


def _anon_ids(rng, n: int) -> pa.Array:
    """'a-' + 16 random hex digits per id, built as one byte buffer."""
    raw = rng.integers(0, 2**62, size=n, dtype=np.int64)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    row = 18
    buf = np.empty((n, row), dtype=np.uint8)
    buf[:, 0] = ord("a")
    buf[:, 1] = ord("-")
    rest = raw.copy()
    for k in range(15, -1, -1):
        buf[:, 2 + k] = digits[rest & 15]
        rest >>= 4
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())])


def _accounts(rng, ci: int, b2b: np.ndarray) -> np.ndarray:
    """Account index per person (-1 for B2C): consecutive B2B people grouped by 1 to 4."""
    idx = np.nonzero(b2b)[0]
    sizes = rng.integers(1, 5, len(idx) + 1)
    grp = np.searchsorted(np.cumsum(sizes), np.arange(len(idx)), side="right")
    out = np.full(len(b2b), -1, dtype=np.int64)
    out[idx] = grp
    return out


def generate(out_dir, customers: int = 20000, seed: int = 0, frictions="default", locale: str = "fr",
             format: str = "parquet", start: str | dt.date = "2025-01-01", days: int = 365,
             chunk_size: int = CHUNK, workers: int | None = None) -> GenerateReport:
    """Generate the demo data set into ``out_dir``; see docs/generator.md."""
    t_start = time.perf_counter()
    if format not in FORMATS:
        raise ConfigError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    if locale not in T.LOCALES:
        raise ConfigError(f"locale {locale!r} is not one of {', '.join(T.LOCALES)}")
    customers, seed, days = int(customers), int(seed), int(days)
    if customers < 1 or days < 1:
        raise ConfigError("customers and days must be at least 1")
    start_d = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    fr_list, cal = load_config(frictions)
    n_chunks = -(-customers // chunk_size)
    if workers is None:
        workers = 1
    elif workers <= 0:
        workers = min(os.cpu_count() or 1, 4)
    workers = min(workers, n_chunks)
    for fr in fr_list:  # register touchpoints the frictions name
        for tp in fr.values("touchpoint"):
            W.tp_code(tp)
        if "with" in fr.params:
            W.tp_code(str(fr.params["with"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    start_ts = int(dt.datetime(start_d.year, start_d.month, start_d.day, tzinfo=dt.timezone.utc).timestamp())
    end_ts = start_ts + days * DAY
    dates = np.datetime64(start_d.isoformat(), "D") + np.arange(days)
    month = dates.astype("datetime64[M]").astype(int) % 12
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    weight = W.MONTH_WEIGHT[month] * W.WEEKDAY_WEIGHT[weekday]
    first_days = max(1, days - 30) if days > 45 else max(1, days // 2)
    day_p = weight[:first_days] / weight[:first_days].sum()
    crng = np.random.default_rng([seed, 7_000_002])
    inconsistent = np.zeros(W.N_PRODUCTS, dtype=bool)
    for fr in fr_list:
        if fr.kind == "price_inconsistency":
            inconsistent |= crng.random(W.N_PRODUCTS) < max(0.05, fr.strength)
    ctx = Ctx(seed=seed, start_ts=start_ts, end_ts=end_ts, days=days, cal=cal, frictions=fr_list,
              catalogue=W.Catalogue(seed), verbatims=T.Verbatims(locale), locale=locale, day_p=day_p,
              inconsistent_products=inconsistent, month_of_day=month, season_of_day=W.SEASON_OF_MONTH[month])

    ext = format
    paths = {name: out / f"{name}.{ext}" for name in TABLES}
    writers = {name: _Writer(paths[name], format, SCHEMAS[name]) for name in ("events", "customers", "feedback")}
    report = GenerateReport(out, format, seed, locale)
    effects: dict[tuple, Effect] = {}
    affected_ids: dict[str, list] = {fr.id: [] for fr in fr_list}
    spend_counts = np.zeros((days, len(W.ACQ)), dtype=np.int64)
    reach = {k: 0 for k in ("people", "aware", "consideration", "purchase_stage", "buyers", "known")}
    n_ev = n_fb = 0
    from concurrent.futures import ThreadPoolExecutor

    write_pool = ThreadPoolExecutor(max_workers=1)
    pending = None
    try:
        starts = list(range(0, customers, chunk_size))
        jobs = [(ci, g0, min(chunk_size, customers - g0)) for ci, g0 in enumerate(starts)]
        for res in _run_chunks(jobs, ctx, workers):
            ev = res["events"]
            ne = ev.num_rows
            ev = ev.add_column(0, "event_id", _seq_ids("e", n_ev + 1, ne, 10))
            n_ev += ne
            fbt = res["feedback"]
            fbt = fbt.add_column(0, "feedback_id", _seq_ids("f", n_fb + 1, fbt.num_rows, 9))
            n_fb += fbt.num_rows
            # write in a background thread (Arrow releases the GIL) while the next chunk is simulated;
            # one chunk in flight at most, written in order
            if pending is not None:
                pending.result()
            pending = write_pool.submit(_write_chunk, writers, ev, res["customers"], fbt)
            spend_counts += res["spend_counts"]
            for key, eff in res["effects"].items():
                agg = effects.setdefault(key, Effect(eff.metric))
                agg.a_num += eff.a_num
                agg.a_den += eff.a_den
                agg.o_num += eff.o_num
                agg.o_den += eff.o_den
            for fid, ids_ in res["affected"].items():
                affected_ids[fid].extend(ids_)
            for k, v in res["reach"].items():
                reach[k] += v
        if pending is not None:
            pending.result()
    finally:
        write_pool.shutdown(wait=True)
        for w in writers.values():
            w.close()
    spend = _spend_table(spend_counts, dates, seed, month)
    sw = _Writer(paths["spend"], format, SCHEMAS["spend"])
    sw.write(spend)
    sw.close()

    truth = {
        "generator": {"customers": customers, "seed": seed, "locale": locale, "format": format,
                      "start": start_d.isoformat(), "days": days, "chunk_size": chunk_size},
        "calibration": cal,
        "people": reach,
        "frictions": [
            {**fr.declaration(), "affected": {"count": len(affected_ids[fr.id]), "ids": affected_ids[fr.id]},
             "effects": [e.to_dict() for (fid, _), e in effects.items() if fid == fr.id]}
            for fr in fr_list
        ],
    }
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    paths["truth"] = out / "truth.json"
    report.people = customers
    report.customers = writers["customers"].rows
    report.events = writers["events"].rows
    report.feedback = writers["feedback"].rows
    report.spend = sw.rows
    report.paths = paths
    report.frictions = [fr.id for fr in fr_list]
    report.seconds = time.perf_counter() - t_start
    return report



def _chunk(job, ctx: Ctx) -> dict:
    """Simulate one chunk and turn it into Arrow tables (ids that depend on other chunks excluded)."""
    ci, g0, n = job
    for fr in ctx.frictions:  # touchpoints named by frictions (worker processes start afresh)
        for tp in fr.values("touchpoint"):
            W.tp_code(tp)
        if "with" in fr.params:
            W.tp_code(str(fr.params["with"]))
    seed, locale = ctx.seed, ctx.locale
    res = simulate(ci, n, ctx)
    P, E = res.persons, res.events
    idrng = np.random.default_rng([seed, ci, 1])
    cust = _seq_ids("C", g0 + 1, n, 8)
    anon = _anon_ids(idrng, 2 * n)
    acc_idx = _accounts(idrng, ci, P["b2b"])
    acc = pa.array([f"A{ci:04d}{a:05d}" for a in range(int(acc_idx.max()) + 1 if len(acc_idx) else 0)], pa.string())
    pid = E["pid"]
    known = E["known"]
    dev = E["device"].astype(np.int64)
    devtype = np.where(dev == 1, P["dev2"][pid], P["dev1"][pid])
    value = _float(E["value"])
    events = pa.table({
        "customer_id": _take(cust, pid, ~known),
        "anonymous_id": _take(anon, pid + n * np.maximum(dev, 0), dev < 0),
        "account_id": _take(acc, np.where(known, acc_idx[pid], -1)),
        "timestamp": _ts(E["t"]),
        "event": _take(W.EVENTS, E["ev"].astype(np.int64)),
        "channel": _take(W.CHANNELS, E["ch"].astype(np.int64)),
        "touchpoint": _take(W.TOUCHPOINTS, E["tp"].astype(np.int64)),
        "value": value,
        "currency": pc.if_else(pc.is_valid(value), pa.scalar("EUR"), pa.scalar(None, pa.string())),
        "properties": _properties(E, np.where(dev < 0, -1, devtype)),
    })
    k_idx = np.nonzero(P["known"])[0]
    customers = _customers_table(cust, acc, acc_idx, P, k_idx, locale)
    feedback = _feedback_table(res.feedback, cust, P, ctx, np.random.default_rng([seed, ci, 2]), ctx.end_ts, locale)
    affected = {}
    for fid, who in res.affected.items():
        who = np.asarray(who, dtype=np.int64)
        anon_who = anon.take(pa.array(who, pa.int64())).to_pylist()
        affected[fid] = [f"C{g0 + i + 1:08d}" if k else a for i, k, a in zip(who.tolist(), P["known"][who].tolist(), anon_who)]
    reach = {"people": n, "aware": int(P["aware"].sum()), "consideration": int(P["reach_c"].sum()),
             "purchase_stage": int(P["reach_p"].sum()), "buyers": int(P["bought"].sum()), "known": int(P["known"].sum())}
    return {"events": events, "customers": customers, "feedback": feedback, "spend_counts": res.spend_counts,
            "effects": res.stats["effects"], "affected": affected, "reach": reach}


def _write_chunk(writers, events, customers, feedback) -> None:
    writers["events"].write(events)
    writers["customers"].write(customers)
    writers["feedback"].write(feedback)


def _run_chunks(jobs, ctx: Ctx, workers: int):
    """Chunk results in order; with workers, simulated in parallel processes (bounded in flight)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _chunk(job, ctx)
        return
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if os.environ.get("PARCOURS_SYNTH_POOL", "thread") == "process":
        pool_cm = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    else:  # numpy and Arrow release the GIL in their kernels: threads share the work without copies
        pool_cm = ThreadPoolExecutor(max_workers=workers)
    with pool_cm as pool:
        pending = deque()
        it = iter(jobs)
        for job in it:
            pending.append(pool.submit(_chunk, job, ctx))
            if len(pending) >= workers + 1:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_chunk, nxt, ctx))
            yield res


def _customers_table(cust, acc, acc_idx, P, k_idx, locale) -> pa.Table:
    def lab(names, codes):
        return pl.from_arrow(_take(names, np.asarray(codes, dtype=np.int64)))

    df = pl.DataFrame({
        "segment": lab(W.SEGMENTS, P["seg"][k_idx]), "country": lab(W.COUNTRIES, P["country"][k_idx]),
        "age_band": lab(W.AGE_BANDS, P["age"][k_idx]), "gender": lab(W.GENDERS, P["gender"][k_idx]),
        "city_size": lab(W.CITY_SIZES, P["city"][k_idx]), "profile": lab(W.PROFILES, P["prof"][k_idx]),
        "acq": lab(W.CHANNELS, P["acq"][k_idx]),
        "ce": pl.Series(P["consent_email"][k_idx]).cast(pl.String), "cs": pl.Series(P["consent_sms"][k_idx]).cast(pl.String),
    })
    keys = ["segment", "country", "age_band", "gender", "city_size", "profile", "acquisition_channel"]
    parts = [pl.lit("{")]
    for i, (key, col) in enumerate(zip(keys, df.columns[:7])):
        parts += [pl.lit(("," if i else "") + f'"{key}":"'), pl.col(col), pl.lit('"')]
    parts += [pl.lit(',"consent_email":'), pl.col("ce"), pl.lit(',"consent_sms":'), pl.col("cs"),
              pl.lit(f',"language":"{locale}"' + "}")]
    attrs = df.select(pl.concat_str(parts).alias("a"))
    return pa.table({
        "customer_id": cust.take(pa.array(k_idx, pa.int64())),
        "account_id": _take(acc, acc_idx[k_idx]),
        "created_at": _ts(P["ident"][k_idx]),
        "attributes": attrs.to_arrow().column(0).combine_chunks().cast(pa.string()),
    })


def _feedback_table(fb, cust, P, ctx, rng, end_ts, locale) -> pa.Table:
    pid = fb["pid"].astype(np.int64)
    topic = np.where(fb["topic"] < 0, T.TOPIC["general"], fb["topic"]).astype(np.int64)
    sent = np.where(fb["sent"] < 0, 1, fb["sent"]).astype(np.int64)
    has_text = fb["text"].astype(bool)
    texts = np.full(len(pid), None, dtype=object)
    texts[has_text] = ctx.verbatims.sentence(rng, topic[has_text], sent[has_text])
    ex = fb["exit"]
    epid = ex["pid"].astype(np.int64)
    all_pid = np.concatenate([pid, epid])
    t = np.concatenate([fb["t"].astype(np.int64), ex["t"].astype(np.int64)])
    kinds = np.concatenate([fb["kind"].astype(object), np.full(len(epid), "verbatim", dtype=object)])
    score = np.concatenate([fb["score"].astype(float), np.full(len(epid), np.nan)])
    text = np.concatenate([texts, ex["text"].astype(object)])
    ch = np.concatenate([fb["ch"].astype(np.int64), ex["ch"].astype(np.int64)])
    tp = np.concatenate([fb["tp"].astype(np.int64), ex["tp"].astype(np.int64)])
    order = np.lexsort((np.arange(len(t)), t, all_pid))
    keep = order[t[order] < end_ts]
    all_pid, t, kinds, score, text, ch, tp = (a[keep] for a in (all_pid, t, kinds, score, text, ch, tp))
    known = t >= P["ident"][all_pid]
    textarr = pa.array(text.tolist(), pa.string())
    return pa.table({
        "customer_id": _take(cust, all_pid, ~known),
        "timestamp": _ts(t),
        "kind": pa.array(kinds.tolist(), pa.string()),
        "score": _float(score),
        "text": textarr,
        "language": pc.if_else(pc.is_valid(textarr), pa.scalar(locale), pa.scalar(None, pa.string())),
        "channel": _take(W.CHANNELS, ch),
        "touchpoint": _take(W.TOUCHPOINTS, tp),
    })


def _spend_table(counts, dates, seed, month) -> pa.Table:
    rng = np.random.default_rng([seed, 7_000_003])
    rows_date, rows_ch, rows_camp, rows_amount = [], [], [], []
    season = W.SEASON_OF_MONTH[month]
    for j, chn in enumerate(W.SPEND_CHANNELS):
        a = W.ACQ.index(chn)
        amount = (W.SPEND_FIXED[chn] * W.MONTH_WEIGHT[month] + W.SPEND_PER_PROSPECT[chn] * counts[:, a])
        amount = np.round(amount * rng.lognormal(0.0, 0.1, len(dates)), 2)
        rows_date.append(dates)
        rows_ch.append(np.full(len(dates), chn, dtype=object))
        rows_camp.append(np.array([f"{W.CAMPAIGN_PREFIX[chn]}_{W.SEASONS[s]}" for s in season], dtype=object))
        rows_amount.append(amount)
    d = np.concatenate(rows_date)
    order = np.lexsort((np.repeat(np.arange(len(W.SPEND_CHANNELS)), len(dates)), d))
    return pa.table({
        "date": pa.array(d[order].astype("datetime64[D]"), pa.date32()),
        "channel": pa.array(np.concatenate(rows_ch)[order].tolist(), pa.string()),
        "campaign": pa.array(np.concatenate(rows_camp)[order].tolist(), pa.string()),
        "amount": pa.array(np.concatenate(rows_amount)[order], pa.float64()),
        "currency": pa.array(["EUR"] * len(d), pa.string()),
    })
