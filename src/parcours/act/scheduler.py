"""A background scheduler for a long-running process (the HTTP server): it runs the due
steps every ``interval`` seconds, so waits end on time without anyone calling
``parcours run``. Entries on ingestion go through ``engine.on_ingest``."""

from __future__ import annotations

import logging
import threading

from ..errors import ParcoursError
from .engine import run_due

log = logging.getLogger(__name__)


class Scheduler:
    """``Scheduler(ws, 60).start()`` ... ``.stop()``; one run at a time, errors logged, not fatal."""

    def __init__(self, ws, interval: float = 60.0, clock=None):
        self.ws, self.interval, self.clock = ws, interval, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_error: Exception | None = None

    def tick(self):
        """One run now (or at ``clock()``): what the thread does every interval."""
        try:
            report = run_due(self.ws, self.clock() if self.clock else None)
            self.last_error = None
            return report
        except ParcoursError as exc:  # a wrong scenario or an unreachable server: retry later
            self.last_error = exc
            log.warning("parcours act: %s", exc)
            return None
        finally:
            self.runs += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def start(self) -> "Scheduler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="parcours-act", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


__all__ = ["Scheduler"]
