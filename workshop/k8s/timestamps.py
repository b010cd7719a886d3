"""Kubernetes timestamps ("2026-12-06T15:46:05Z", with or without microseconds), read once.

Every reader of creationTimestamp, lastTimestamp, eventTime, lastTransitionTime or an
annotation's time goes through `parse`, so a Z suffix or a bad value is handled alike.
"""

from __future__ import annotations

from datetime import datetime, timezone

EPOCH = datetime.min.replace(tzinfo=timezone.utc)  # sorts before every real time


def parse(text: object) -> datetime | None:
    """An aware datetime, or None for an empty or unreadable value."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def age_seconds(text: object, now: datetime | None = None) -> float | None:
    """Seconds since `text` (never negative), or None when it cannot be read."""
    when = parse(text)
    if when is None:
        return None
    return max(0.0, ((now or datetime.now(timezone.utc)) - when).total_seconds())


def age_text(text: object) -> str:
    """"42s" under two minutes, then "7m"; "-" when there is no time."""
    seconds = age_seconds(text)
    if seconds is None:
        return "-"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"
