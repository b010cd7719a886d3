"""The pure parts of the checkers and the notebook surface, without a cluster: what a
requirement means, how quantities compare, how events are quoted and explained, and how
results and tables render. Checks that read an object get it from a fake in place of the
API (the lesson tests grade the same checks against the real cluster)."""

from __future__ import annotations

import pytest

from workshop.instances import catalog
from workshop.builders import base as checkers
from workshop.builders import nodepools, workloads
from workshop.grading import core as grading
from workshop.k8s import events
from workshop.lab import display
from workshop.k8s import pending, usage
from workshop.grading.core import Status

ASKED = [
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
    {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["m6g", "c6g"]},
]


def req(key, *values, operator="In"):
    return {"key": key, "operator": operator, "values": list(values)}


class Ctx:
    lesson = 2
    namespace = "lesson-02"
    catalog = catalog.load_catalog()


def pool(*requirements, limits=None) -> dict:
    return {"metadata": {"name": "team-payments"},
            "spec": {"template": {"spec": {"requirements": list(requirements)}},
                     "limits": limits or {}}}


def grade_pool(monkeypatch, check: grading.Check, live: dict) -> grading.Outcome:
    monkeypatch.setattr(checkers, "get_nodepool", lambda name: live)
    return check.fn(Ctx())


# ------------------------------------------------------------------ requirement meaning


ADMITS = nodepools.nodepool_admits_exactly("2.1.offerings", "team-payments", ASKED)


def test_the_asked_requirements_pass_in_any_spelling(monkeypatch):
    assert grade_pool(monkeypatch, ADMITS, pool(*ASKED)).status is Status.PASS
    # Same meaning, other words: NotIn amd64 instead of In arm64.
    other = [req("kubernetes.io/arch", "amd64", operator="NotIn"), *ASKED[1:]]
    assert grade_pool(monkeypatch, ADMITS, pool(*other)).status is Status.PASS


def test_a_restricted_key_typo_fails_even_when_the_admitted_set_is_right(monkeypatch):
    typo = [*ASKED[:2], req("karpenter.k8s.aws/instancefamily", "m6g", "c6g")]
    out = grade_pool(monkeypatch, ADMITS, pool(*typo, ASKED[2]))
    assert out.status is Status.FAIL
    assert "`karpenter.k8s.aws/instancefamily` is not a well-known label" in out.hint
    assert "restricted" in out.hint and "never Ready" in out.hint


@pytest.mark.parametrize("key, says", [
    ("karpenter.sh/capacitytype", "domain `karpenter.sh` is restricted"),
    ("karpenter.k8s.aws/instance-cpus", "domain `karpenter.k8s.aws` is restricted"),
    ("kubernetes.io/hostname", "Karpenter reserves it"),
    # Not restricted on EKS (v1.14.1 restricts only karpenter.sh and the provider's domain),
    # but no node will ever carry them: the requirement narrows nothing.
    ("kubernetes.io/archh", "narrows nothing"),
    ("node.kubernetes.io/instancetype", "narrows nothing"),
    ("karpenter.kwok.sh/instancefamily", "narrows nothing"),
])
def test_every_unknown_well_known_looking_key_is_named(key, says):
    problem = nodepools.requirement_key_problem(Ctx.catalog, [*ASKED, req(key, "x")])
    assert f"`{key}`" in problem and says in problem


def test_custom_and_eks_well_known_keys_are_fine():
    reqs = [*ASKED, req("team", "payments"), req("topology.k8s.aws/zone-id", "usw2-az1"),
            req("karpenter.k8s.aws/instance-cpu-manufacturer", "aws")]
    assert nodepools.requirement_key_problem(Ctx.catalog, reqs) is None


def test_a_kwok_key_passes_with_a_remark_naming_the_aws_key(monkeypatch):
    kwok = [*ASKED[:2], req("karpenter.kwok.sh/instance-family", "m6g", "c6g")]
    out = grade_pool(monkeypatch, ADMITS, pool(*kwok))
    assert out.status is Status.PASS
    assert out.found.startswith("accepted, but `karpenter.kwok.sh/instance-family`")
    assert "on EKS write `karpenter.k8s.aws/instance-family`" in out.found
    # The report shows a pass's remark.
    report = grading.run(grading.Exercise("2.1", "pool", [grading.Check(
        "2.1.offerings", "offerings", lambda ctx: out)]), None)
    assert "on EKS write" in grading.render_text(report)


def test_a_value_no_offering_has_is_named(monkeypatch):
    spot = [ASKED[0], req("karpenter.sh/capacity-type", "Spot"), ASKED[2]]
    out = grade_pool(monkeypatch, ADMITS, pool(*spot))
    assert out.status is Status.FAIL and "`karpenter.sh/capacity-type` = `Spot`" in out.hint


def test_a_differing_set_names_the_dimension():
    expected = Ctx.catalog.admitted(ASKED)
    on_demand_too = Ctx.catalog.admitted([ASKED[0], ASKED[2]])
    assert "also admit other capacity types (on-demand)" in nodepools.set_difference_hint(
        expected, on_demand_too)
    m6g_only = Ctx.catalog.admitted([*ASKED[:2], req(ASKED[2]["key"], "m6g")])
    assert "leave out instance families the exercise asks for (c6g)" in \
        nodepools.set_difference_hint(expected, m6g_only)
    more_families = Ctx.catalog.admitted([ASKED[1], req(ASKED[2]["key"], "m6g", "c6g", "m5")])
    assert "instance families (m5)" in nodepools.set_difference_hint(expected, more_families)


def test_allows_and_mentioned_read_selectors_and_affinity():
    key = "karpenter.sh/capacity-type"
    selector = {"nodeSelector": {key: "on-demand"}}
    assert checkers.allows_label(selector, key, "on-demand")
    assert not checkers.allows_label(selector, key, "spot") and not checkers.allows_label(selector, key, None)
    affinity = {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [req(key, "spot", operator="NotIn"), req("team", "a")]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [req("zone", "z1")]}}]}}}
    # NotIn spot: on-demand and nodes without the label pass; rules on other keys are ignored.
    assert checkers.allows_label(affinity, key, "on-demand") and checkers.allows_label(affinity, key, None)
    assert not checkers.allows_label(affinity, key, "spot")
    assert checkers.allows_label({}, key, "spot")  # no rule: anything goes
    assert checkers.mentioned_labels(affinity, "required") == [(key, ["spot"]), ("team", ["a"])]
    assert checkers.mentioned_labels(affinity, "preferred") == [("zone", ["z1"])]
    assert checkers.mentioned_labels(selector, "required") == [(key, ["on-demand"])]


# ------------------------------------------------------------------ quantities


LIMITS = nodepools.nodepool_limits("2.1.limits", "team-payments", {"cpu": "16", "memory": "64Gi"})


@pytest.mark.parametrize("limits, status, says", [
    ({"cpu": "16000m", "memory": "65536Mi"}, Status.PASS, ""),
    ({"cpu": 16, "memory": "64Gi"}, Status.PASS, ""),
    ({"cpu": "16", "memory": "64G"}, Status.FAIL, "powers of 1024"),
    ({"cpu": "16", "memory": "64"}, Status.FAIL, "means 64 bytes"),
    ({"cpu": "16", "memory": "64 Gi"}, Status.FAIL, "is not a Kubernetes quantity"),
    ({"cpu": "8", "memory": "64Gi"}, Status.FAIL, "check the number and unit"),
    ({"memory": "64Gi"}, Status.FAIL, "no cpu limit"),
])
def test_limits_compare_by_value(monkeypatch, limits, status, says):
    out = grade_pool(monkeypatch, LIMITS, pool(*ASKED, limits=limits))
    assert out.status is status and says in out.hint


# ------------------------------------------------------------------ requests as scheduled


def deployment(resources: dict) -> dict:
    return {"metadata": {"name": "inflate"}, "spec": {"replicas": 5, "template": {"spec": {
        "containers": [{"name": "inflate", "image": "pause", "resources": resources}]}}}}


REQUESTS = workloads.container_requests("1.1.requests", "inflate", cpu="1", memory="1Gi")


def grade_deployment(monkeypatch, check, resources):
    monkeypatch.setattr(checkers, "get_deployment", lambda ctx, name: deployment(resources))
    return check.fn(Ctx())


def test_effective_requests_default_to_limits():
    c = {"resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1"}}}
    assert usage.effective_requests(c) == {"cpu": "1", "memory": "1Gi"}
    assert usage.effective_requests({}) == {}


@pytest.mark.parametrize("resources, status, found, hint", [
    ({"requests": {"cpu": "1000m", "memory": "1024Mi"}}, Status.PASS, "cpu 1, memory 1Gi", ""),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, Status.PASS,
     "accepted: cpu 1, memory 1Gi per pod (no cpu or memory request written", ""),
    ({"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}, Status.PASS,
     "no memory request written", ""),
    ({"limits": {"cpu": "2", "memory": "1Gi"}}, Status.FAIL, "cpu limit, so its request 2",
     "the cpu request differs"),
    ({}, Status.FAIL, "no cpu or memory request or limit", "no requests:"),
    ({"limits": {"cpu": "1"}}, Status.FAIL, "no memory request or limit", "no memory request:"),
])
def test_requests_are_graded_as_the_scheduler_sees_them(monkeypatch, resources, status, found,
                                                        hint):
    out = grade_deployment(monkeypatch, REQUESTS, resources)
    assert out.status is status and found in out.found and hint in out.hint, out
    if any(usage.effective_requests({"resources": resources})):
        assert "no requests" not in out.hint  # never, when the scheduler sees some


# ------------------------------------------------------------------ events


def test_events_are_quoted_on_one_line_and_cut():
    assert pending.quote("karpenter", "a\n  b\tc") == "karpenter: a b c"
    long = pending.quote("scheduler", "x" * 1000)
    assert len(long) == len("scheduler: ") + pending.EVENT_CHARS and long.endswith("…")


KNOWN = {"team", "karpenter.sh/capacity-type", "kubernetes.io/arch"}


@pytest.mark.parametrize("event, says", [
    ('karpenter: Failed to schedule pod, incompatible with nodepool "a", daemonset overhead='
     '{}, incompatible requirements, label "teams" does not have known values', "selector's keys"),
    ('karpenter: Failed to schedule pod, all available instance types exceed limits for '
     'nodepool (NodePool=team-payments); did not tolerate taint (x); incompatible '
     'requirements, label "team" does not have known values', "limits are reached"),
    ("karpenter: Failed to schedule pod, no instance type satisfied resources "
     '{"cpu":"100"} and requirements', "no instance type can hold"),
    ("karpenter: Failed to schedule pod, did not tolerate taint nvidia.com/gpu", "tainted"),
    ("karpenter: something new", "its event says why"),
])
def test_pending_hint_reads_the_most_telling_clause(event, says):
    assert says in pending.pending_hint(event, KNOWN)


# ------------------------------------------------------------------ notebook rendering


def test_tables_and_error_boxes_escape_what_they_show():
    table = display.table(["a<b"], [["<script>", 3]])
    assert "<script>" not in table and "&lt;script&gt;" in table and "<td" in table
    from workshop.errors import WorkshopError
    box = display.error_html(WorkshopError("bad <yaml>", fix="use & fix", detail="line 3"))
    assert "bad &lt;yaml&gt;" in box and "use &amp; fix" in box and "line 3" in box


def test_karpenter_condition_events_read_short():
    msg = ("Status condition transitioned, Type: Ready, Status: Unknown -> False, Reason: "
           "NotReady, Message: NodeClass not found")
    assert events.short_event(msg) == "Ready: Unknown → False (NodeClass not found)"
    assert events.short_event("  Launched  ") == "Launched"


def test_pool_readiness_and_claim_state():
    np = {"status": {"conditions": [
        {"type": "Ready", "status": "False"},
        {"type": "NodeClassReady", "status": "False", "message": "not found"}]}}
    assert events.pool_readiness(np, np["status"]["conditions"][0]) == \
        "False (NodeClassReady: not found)"
    assert events.pool_readiness({}, {"status": "True"}) == "True"
    claim = {"metadata": {}, "status": {"conditions": [
        {"type": "Launched", "status": "True"}, {"type": "Registered", "status": "True"}]}}
    assert events.claim_state(claim) == "Registered"
    assert events.claim_state({"metadata": {"deletionTimestamp": "now"}}) == "deleting"


# ------------------------------------------------------------------ other lessons' leftovers


def node_on(pool_name: str):
    from workshop.k8s import observe
    return observe.NodeInfo.of({"metadata": {"name": "n1", "labels": {
        observe.NODEPOOL_LABEL: pool_name}}})


def test_pods_on_another_lessons_pool_name_that_lesson():
    class Lesson1(Ctx):
        lesson = 1
    # team-payments is lesson 2's (checks/lesson_02.py NODEPOOLS).
    hint = checkers.leftover_hint(Lesson1(), [node_on("system-service-general-purpose"),
                                              node_on("team-payments")])
    assert "lesson 2's NodePool team-payments" in hint and "`make reset-lesson-2`" in hint
    # In its own lesson, or on a platform pool, it is the learner's selector after all.
    assert checkers.leftover_hint(Ctx(), [node_on("team-payments")]) is None
    assert checkers.leftover_hint(Lesson1(), [node_on("system-service-general-purpose")]) is None
