"""Rate limits per client, from the `limits` library: a sliding window per key, in memory.

`limits`' memory storage forgets a counter once its window has passed (a timer expires
it), so a flood of made-up addresses or tokens cannot grow the table without end. (Its
moving-window strategy keeps an empty entry per key for good in memory storage
(limits 5.8): the sliding-window counter is the one whose keys really go.)
"""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


class Limit:
    """`Limit("30/15 seconds")`: about 30 hits per key in any 15 s (a sliding window
    estimated from two fixed ones: what `limits` can expire in memory)."""

    def __init__(self, rule: str, storage: MemoryStorage | None = None):
        self.item = parse(rule)
        self.storage = storage or MemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)

    def take(self, key: str) -> float:
        """0 if allowed now (and counted), else the seconds until a hit would be."""
        if self._limiter.hit(self.item, key):
            return 0.0
        reset_at, _ = self._limiter.get_window_stats(self.item, key)
        return max(reset_at - time.time(), 0.1)
