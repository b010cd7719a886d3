"""Rate limits per client, from the `limits` library: a moving window per key, in memory.

`limits`' memory storage forgets a key once its window has passed (a timer expires it), so
a flood of made-up addresses or tokens cannot grow the table without end.
"""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class Limit:
    """`Limit("30/15 seconds")`: at most 30 hits per key in any 15 s."""

    def __init__(self, rule: str, storage: MemoryStorage | None = None):
        self.item = parse(rule)
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def take(self, key: str) -> float:
        """0 if allowed now (and counted), else the seconds until a hit would be."""
        if self._limiter.hit(self.item, key):
            return 0.0
        reset_at, _ = self._limiter.get_window_stats(self.item, key)
        return max(reset_at - time.time(), 0.1)
