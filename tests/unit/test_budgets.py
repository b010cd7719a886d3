"""Disruption budgets read as Karpenter v1.14.1 reads them (workshop/k8s/budgets.py):
only budgets active now count, the most restrictive wins, percentages round up."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from workshop.k8s import budgets

# A Wednesday, 10:30 UTC.
WED_1030 = datetime(2026, 12, 2, 10, 30, tzinfo=timezone.utc)
BUSINESS_HOURS = {"nodes": "0", "schedule": "0 9 * * 1-5", "duration": "8h"}


def test_a_budget_without_schedule_is_always_active():
    assert budgets.is_active({"nodes": "1"}, WED_1030)


@pytest.mark.parametrize("schedule,duration,active", [
    ("0 9 * * 1-5", "8h", True),     # fired at 09:00 today, lasts until 17:00
    ("0 9 * * 1-5", "1h", False),    # fired at 09:00, over at 10:00
    ("0 9 * * 0,6", "8h", False),    # weekends only
    ("30 10 * * *", "10m", True),    # fired exactly now: active (the hit is not after now)
    ("@daily", "12h", True),         # midnight, 12 hours
    ("@daily", "10h", False),
    ("@hourly", "31m", True),        # 10:00 + 31m covers 10:30
    ("@hourly", "30m", False),       # the window [10:00, 10:30) just ended: robfig/cron's
                                     # Next(10:00) is 11:00 (spec.go: strictly after)
    ("0 22 * * *", "13h", True),     # yesterday 22:00 + 13h = today 11:00
    ("0 9 * * 1-5", "8h0s", True),   # Go's Duration.String() form, which the API allows
])
def test_a_scheduled_budget_is_active_for_duration_after_each_hit(schedule, duration, active):
    budget = {"nodes": "0", "schedule": schedule, "duration": duration}
    assert budgets.is_active(budget, WED_1030) is active


@pytest.mark.parametrize("nodes,pool,allowed", [
    ("1", 5, 1), ("0", 5, 0), ("10%", 1, 1), ("10%", 10, 1), ("10%", 11, 2),
    ("100%", 3, 3), ("0%", 4, 0), ("5%", 10, 1),
])
def test_percentages_round_up_like_a_pdb(nodes, pool, allowed):
    assert budgets.allowed({"nodes": nodes}, pool) == allowed


def test_the_most_restrictive_active_budget_wins():
    r = budgets.read([{"nodes": "1"}, {"nodes": "10%"}], "Drifted", 30)
    assert r.allowed == 1 and r.at_most(1)
    # "10%" alone is 1 on a small pool only: it grows with the pool.
    small, large = (budgets.read([{"nodes": "10%"}], "Drifted", n) for n in (3, 30))
    assert (small.allowed, large.allowed) == (1, 3)
    assert not small.at_most(1)


def test_an_inactive_budget_does_not_count():
    r = budgets.read([{"nodes": "1"}, BUSINESS_HOURS], "Drifted", 2,
                     datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))  # a Saturday
    assert r.allowed == 1 and r.inactive == [BUSINESS_HOURS]
    assert budgets.read([{"nodes": "1"}, BUSINESS_HOURS], "Drifted", 2, WED_1030).allowed == 0
    # With no budget active, nothing bounds disruption (Karpenter's MaxInt32).
    alone = budgets.read([BUSINESS_HOURS], "Drifted", 2, datetime(2026, 12, 5, 12, 0,
                                                                   tzinfo=timezone.utc))
    assert alone.allowed == budgets.UNLIMITED and not alone.active


def test_a_budget_counts_only_for_its_reasons():
    spec = [{"nodes": "0", "reasons": ["Underutilized"]}, {"nodes": "2"}]
    assert budgets.read(spec, "Drifted", 5).allowed == 2
    assert budgets.read(spec, "Underutilized", 5).allowed == 0


def test_no_budgets_means_the_crds_default_ten_percent():
    assert budgets.read(None, "Drifted", 20).allowed == 2
    assert budgets.read([], "Empty", 1).allowed == 1


def test_a_budget_is_described_as_written():
    assert budgets.describe(BUSINESS_HOURS) == 'nodes: "0" at "0 9 * * 1-5" for 8h'
    assert budgets.describe({"nodes": "1", "reasons": ["Drifted"]}) == 'nodes: "1" for Drifted'
