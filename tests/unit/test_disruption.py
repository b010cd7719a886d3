"""Reading Karpenter's disruption state without a cluster: durations, drift by template hash,
expiry countdown (workshop/k8s/disruption.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workshop.k8s import disruption


@pytest.mark.parametrize("text,seconds", [("10s", 10), ("1m", 60), ("1m30s", 90),
                                          ("720h", 720 * 3600), ("Never", None)])
def test_durations_in_karpenters_format(text, seconds):
    assert disruption.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10", "1d", "ten", "", "1.5m", "never"])
def test_what_the_api_would_reject_is_not_a_duration(text):
    with pytest.raises(ValueError):
        disruption.parse_duration(text)


def _claim(hash_="1", version="v3", conditions=(), created=None, expire="1m"):
    created = created or datetime.now(timezone.utc)
    return {"metadata": {"name": "nc", "creationTimestamp": created.isoformat(),
                         "annotations": {disruption.HASH: hash_,
                                         disruption.HASH_VERSION: version}},
            "spec": {"expireAfter": expire},
            "status": {"conditions": list(conditions)}}


def _pool(hash_="1", version="v3"):
    return {"metadata": {"annotations": {disruption.HASH: hash_,
                                         disruption.HASH_VERSION: version}}}


def test_a_claim_from_an_older_template_is_drifted():
    assert disruption.drifted(_claim("1"), _pool("2"))
    assert not disruption.drifted(_claim("2"), _pool("2"))
    # Karpenter compares hashes only of the same hash version.
    assert not disruption.drifted(_claim("1", "v2"), _pool("2", "v3"))
    marked = _claim("2", conditions=[{"type": "Drifted", "status": "True",
                                      "reason": "NodePoolDrifted"}])
    assert disruption.drifted(marked, _pool("2"))


def test_expiry_counts_down_from_creation():
    claim = _claim(created=datetime.now(timezone.utc) - timedelta(seconds=45))
    assert 10 < disruption.expires_in_s(claim) <= 15
    assert disruption.expires_in_s(_claim(expire="Never")) is None
    initialized = [{"type": "Initialized", "status": "True"}]
    assert "expires in" in disruption.state(_claim(conditions=initialized))
