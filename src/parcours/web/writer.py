"""The single writer of the HTTP server: a bounded queue and group commit.

DuckDB has one writer, and a transaction costs the same fixed work (staging, validation SQL,
dedup) whether it holds ten events or ten thousand. So requests are checked in the event loop,
queued, and one thread writes whatever has queued up since its last commit in one
transaction (group commit); each request's future is resolved only after that COMMIT, so an
HTTP 2xx means the events are in the store's write-ahead log and survive a crash.

Backpressure: the queue is bounded by the number of events waiting; a request that would
overflow it is refused at once (``Busy``, answered 429 with Retry-After) instead of buffered
where a crash would lose it. Stage assignment and identity stitching are not run per request:
``Refresher`` runs ``Workspace.refresh`` on its own thread and connection when new data has
waited ``interval`` seconds, and on demand, beside the writes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from ..data.segment import SegmentRows
from ..data.segment_import import import_segment_rows

log = logging.getLogger("parcours.web")

#: at most this many events in one transaction; more waiting requests go in the next one.
MAX_GROUP_EVENTS = 50_000
_STOP = object()  # queued by stop(): write what came before, then end


class Busy(Exception):
    """The queue is full: the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1):
        super().__init__("the ingestion queue is full")
        self.retry_after = retry_after


@dataclass
class _Job:
    rows: SegmentRows | None  # None: a refresh request
    size: int
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


@dataclass
class WriterStats:
    commits: int = 0
    requests: int = 0
    messages: int = 0
    refreshes: int = 0
    last_refresh_seconds: float | None = None
    #: wall seconds spent writing and refreshing, for the benchmark and /health.
    write_seconds: float = 0.0
    refresh_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"commits": self.commits, "requests": self.requests, "messages": self.messages,
                "write_seconds": round(self.write_seconds, 3), "refreshes": self.refreshes,
                "refresh_seconds": round(self.refresh_seconds, 3),
                "last_refresh_seconds": self.last_refresh_seconds, "errors": len(self.errors)}


def _settle(job: _Job, result=None, exc: BaseException | None = None) -> None:
    def done():
        if not job.future.done():  # the client may have gone away
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    job.loop.call_soon_threadsafe(done)


class Writer:
    """One thread owning the workspace's write connection."""

    def __init__(self, workspace, max_pending: int = 100_000, refresher: "Refresher | None" = None):
        self.workspace = workspace
        self.max_pending = max_pending
        self.refresher = refresher
        self.stats = WriterStats() if refresher is None else refresher.stats
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="parcours-writer", daemon=True)

    # -- the event loop's side --------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        if self.refresher:
            self.refresher.start()

    def submit(self, rows: SegmentRows) -> asyncio.Future:
        """Queue checked rows; the future resolves after their COMMIT. Raises Busy when full."""
        size = max(rows.messages, 1)
        with self._lock:
            # a request alone larger than the queue still goes through when nothing waits
            if self._pending and self._pending + size > self.max_pending:
                raise Busy()
            self._pending += size
        loop = asyncio.get_running_loop()
        job = _Job(rows, size, loop.create_future(), loop)
        self._queue.put(job)
        return job.future

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def refresh_interval(self) -> float | None:
        """Seconds between background refreshes (None: only on request)."""
        return self.refresher.interval if self.refresher else None

    def request_refresh(self) -> asyncio.Future:
        """A refresh now (see ``Refresher.request``)."""
        return self.refresher.request()

    def stop(self, timeout: float = 60.0) -> None:
        """Write what is queued, then end the thread (and the refresher's)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        if self.refresher:
            self.refresher.stop(timeout)

    # -- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            jobs, stop = self._group(job)
            self._write(jobs)
            if stop:
                return

    def _group(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, total = [first], first.size
        while total < MAX_GROUP_EVENTS:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                return jobs, True
            jobs.append(job)
            total += job.size
        return jobs, False

    def _write(self, jobs: list[_Job]) -> None:
        t0 = time.monotonic()
        try:
            report = import_segment_rows(self.workspace.store, _merge([j.rows for j in jobs]), "http")
        except Exception as exc:  # noqa: BLE001 - isolate the request that fails, keep the others
            if len(jobs) > 1:
                for j in jobs:
                    self._write([j])
                return
            log.exception("ingestion write failed")
            self.stats.errors.append(str(exc))
            self._release(jobs)
            _settle(jobs[0], exc=exc)
            return
        if self.refresher:
            self.refresher.new_data()
        self.stats.write_seconds += time.monotonic() - t0
        self.stats.commits += 1
        self.stats.requests += len(jobs)
        self.stats.messages += sum(j.rows.messages for j in jobs)
        self._release(jobs)
        for j in jobs:
            _settle(j, result=report)

    def _release(self, jobs: list[_Job]) -> None:
        with self._lock:
            self._pending -= sum(j.size for j in jobs)


class Refresher:
    """Stitching and stage assignment on a thread and a connection of their own.

    The refresh only reads the canonical tables and rewrites the journey tables, and an import
    only appends to the canonical ones, so DuckDB runs both transactions side by side: the
    refresh works on a snapshot and the events committed meanwhile (higher ``_seq``) are
    taken by the next one. Ingestion never waits for it.
    """

    def __init__(self, workspace, interval: float | None = 30.0, stats: WriterStats | None = None,
                 scheduler=None):
        self.workspace = workspace  # a Workspace over its own connection
        self.interval = interval
        # orchestration (act.scheduler.Scheduler over the same workspace): it ticks on this
        # thread after each refresh and every scheduler.interval, so entries fire on the
        # journeys just rebuilt and no second writer competes with the refresh
        self.scheduler = scheduler
        self._ticked = time.monotonic()
        self.stats = stats or WriterStats()
        self._wake = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []
        # imports from the CLI refresh already; new data here waits at most ``interval``
        self._dirty = False
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="parcours-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def new_data(self) -> None:
        self._dirty = True

    def request(self) -> asyncio.Future:
        """A refresh now; the future resolves with its statistics."""
        loop = asyncio.get_running_loop()
        job = _Job(None, 0, loop.create_future(), loop)
        with self._lock:
            self._waiting.append(job)
        self._wake.set()
        return job.future

    def stop(self, timeout: float = 60.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _due(self) -> bool:
        return bool(self._dirty and self.interval and time.monotonic() - self._last >= self.interval)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            with self._lock:
                waiting, self._waiting = self._waiting, []
            refreshed = False
            if waiting or (self._due() and not self._stopping):
                refreshed = self._refresh(waiting)
            if self.scheduler is not None and not self._stopping and (
                    refreshed or time.monotonic() - self._ticked >= self.scheduler.interval):
                self._tick()

    def _tick(self) -> None:
        self._ticked = time.monotonic()
        try:
            self.scheduler.tick()
        except Exception:  # noqa: BLE001 - a failing scenario must not stop the refreshes
            log.exception("orchestration run failed")

    def _refresh(self, waiting: list[_Job]) -> bool:
        self._dirty = False  # data committed while this runs marks it again
        t0 = time.monotonic()
        try:
            stats = self.workspace.refresh()
        except Exception as exc:  # noqa: BLE001 - reported to who asked, the server goes on
            log.exception("refresh failed")
            self._dirty = True
            self._last = time.monotonic()
            for j in waiting:
                _settle(j, exc=exc)
            return False
        self._last = time.monotonic()
        self.stats.refreshes += 1
        self.stats.refresh_seconds += self._last - t0
        self.stats.last_refresh_seconds = round(self._last - t0, 3)
        data = stats.to_dict() if hasattr(stats, "to_dict") else {}
        for j in waiting:
            _settle(j, result=data)
        return True


def _merge(parts: list[SegmentRows]) -> SegmentRows:
    """The rows of several requests as one import, row numbers kept distinct and in order."""
    if len(parts) == 1:
        return parts[0]
    out = SegmentRows(source="http")
    offset = 0
    for p in parts:
        for name in ("events", "customers", "identities"):
            rows = getattr(p, name)
            if offset:
                for r in rows:  # each request's rows belong to its job alone
                    r["row"] += offset
            getattr(out, name).extend(rows)
        out.messages += p.messages
        offset += p.messages
    return out


__all__ = ["Busy", "Writer", "Refresher", "WriterStats"]
