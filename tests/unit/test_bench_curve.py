"""The scale curve's shaping (table, JSON, growth): pure, no cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from workshop.bench import curve
from workshop.bench.curve import Point

REPO = Path(__file__).resolve().parents[2]


def _point(pods: int, ready_s: float, **kw) -> Point:
    base = dict(nodes=pods // 30, last_launched_s=ready_s * 0.6, last_bound_s=ready_s * 0.8,
                empty_gone_s=28.4)
    return Point(pods=pods, ready_s=ready_s, **{**base, **kw})


def test_table_has_one_row_per_size_in_order_with_units():
    points = [_point(100, 2.0, load_1m=1.25), _point(2000, 31.0, other_pods=134, rss_mib=900)]
    lines = curve.table(points).splitlines()
    assert len(lines) == 4  # heads, rule, two rows
    assert "Ready (s)" in lines[0] and "empty gone (s)" in lines[0] and "load 1m" in lines[0]
    assert lines[2].split()[:2] == ["100", "2.0"]
    assert lines[3].split()[:2] == ["2,000", "31.0"]
    assert "134" in lines[3].split() and "900" in lines[3].split()
    assert all(len(line) == len(lines[0]) for line in lines)  # columns line up


def test_missing_numbers_show_as_a_dash_not_none():
    row = curve.table([_point(500, 8.0, last_launched_s=None, load_1m=None)]).splitlines()[2]
    assert "None" not in row and row.split()[3] == "-"


def test_growth_is_the_exponent_between_smallest_and_largest():
    linear = [_point(100, 2.0), _point(1000, 20.0), _point(2000, 40.0)]
    assert curve.growth(linear) == 1.0
    quadratic = [_point(500, 5.0), _point(1000, 20.0)]
    assert curve.growth(quadratic) == 2.0
    # Sizes that took under a second are noise, not a trend; one size is no curve.
    assert curve.growth([_point(100, 0.5), _point(1000, 12.0)]) is None
    assert curve.growth([_point(1000, 12.0)]) is None


def test_json_carries_every_point_and_is_serialisable():
    points = [_point(100, 2.0, cpu_s={"karpenter": 1.5}), _point(1000, 16.0)]
    out = json.loads(json.dumps(curve.as_json(points)))
    assert [p["pods"] for p in out["scale_curve"]] == [100, 1000]
    assert out["scale_curve"][0]["cpu_s"] == {"karpenter": 1.5}
    assert out["scale_ready_s_per_1000_pods"] == {"100": 20.0, "1000": 16.0}
    assert out["scale_growth_exponent"] == 0.9


def test_make_bench_scale_runs_only_the_curve():
    dry = subprocess.run(["make", "-n", "-C", str(REPO), "bench", "SCALE=1"],
                         capture_output=True, text=True)
    assert dry.returncode == 0 and "BENCH_ONLY=scale" in dry.stdout
    full = subprocess.run(["make", "-n", "-C", str(REPO), "bench"], capture_output=True, text=True)
    assert "BENCH_ONLY" not in full.stdout


def _samples(failed_single: float, empty_runs: float, empty_s: float) -> dict:
    return {
        ("karpenter_voluntary_disruption_failed_validations_total",
         (("consolidation_type", "single"),)): failed_single,
        ("karpenter_voluntary_disruption_decision_evaluation_duration_seconds_count",
         (("consolidation_type", "empty"), ("reason", "empty"))): empty_runs,
        ("karpenter_voluntary_disruption_decision_evaluation_duration_seconds_sum",
         (("consolidation_type", "empty"), ("reason", "empty"))): empty_s,
        # a bucket is neither a run nor seconds: it must not be counted
        ("karpenter_voluntary_disruption_decision_evaluation_duration_seconds_bucket",
         (("consolidation_type", "empty"), ("le", "+Inf"), ("reason", "empty"))): empty_runs,
    }


def test_disruption_delta_counts_only_what_happened_between_readings():
    delta = curve.disruption_delta(_samples(1, 8, 15.5), _samples(2, 11, 31.0))
    assert delta == {"failed_validations": {"single": 1},
                     "evaluations": {"empty": {"runs": 3, "seconds": 15.5}}}
    assert curve.disruption_delta(_samples(1, 8, 15.5), _samples(1, 8, 15.5)) == {
        "failed_validations": {}, "evaluations": {}}
    # Karpenter not answering reads as no samples: nothing is claimed
    assert curve.disruption_delta({}, {}) == {"failed_validations": {}, "evaluations": {}}


def test_empty_table_shows_each_step_and_the_failed_validations():
    a = _point(100, 2.0, phases={"empty": {"pods_gone": 0.8, "consolidatable": 5.9,
                                           "deleting_first": 21.0, "deleting_last": 21.1,
                                           "nodes_gone": 26.3}})
    b = _point(1000, 14.0, disruption={"failed_validations": {"single": 1}})
    lines = curve.empty_table([a, b]).splitlines()
    assert "Consolidatable" in lines[0] and "failed validations" in lines[0]
    assert lines[2].split() == ["100", "0.8", "5.9", "21.0", "21.1", "26.3", "0"]
    assert lines[3].split()[:6] == ["1,000", "-", "-", "-", "-", "-"]
    assert lines[3].endswith("single 1")
    assert all(len(line) == len(lines[0]) for line in lines)
