"""Dashboard results kept between page views, so a warm page answers in milliseconds.

An analysis over ten million events takes seconds; the dashboard asks the same questions
again and again (the overview, a funnel being refined). A result is reused while the data it
was computed from has not changed: the key holds the writer's refresh count (journeys change
only at a refresh) and the number of survey answers and segments written by this process. Ingestion
commits between refreshes change the raw tables too, so a result computed before a commit is
reused for at most ``stale_after`` seconds (the background refresh interval). Two identical
requests at once compute once: the second waits for the first one's future.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Awaitable, Callable


class ResultCache:
    def __init__(self, server, maxsize: int = 256, stale_after: float = 30.0):
        self.server, self.maxsize, self.stale_after = server, maxsize, stale_after
        self.local_writes = 0  # survey answers and segments written here: results changed
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self.hits = self.misses = 0

    def _version(self) -> tuple:
        return (self.server.writer.stats.refreshes, self.local_writes)

    async def get(self, key: tuple, compute: Callable[[], Awaitable[Any]]) -> Any:
        full = (key, self._version())
        commits = self.server.writer.stats.commits
        entry = self._entries.get(full)
        if entry is not None:
            future, made_at, made_commits = entry
            fresh = made_commits == commits or time.monotonic() - made_at < self.stale_after
            if fresh and not (future.done() and future.exception() is not None):
                self._entries.move_to_end(full)
                self.hits += 1
                return await asyncio.shield(future)
        self.misses += 1
        future = asyncio.get_running_loop().create_future()
        self._entries[full] = (future, time.monotonic(), commits)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        try:
            future.set_result(await compute())
        except BaseException as exc:
            future.set_exception(exc)
            self._entries.pop(full, None)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        return future.result()


__all__ = ["ResultCache"]
