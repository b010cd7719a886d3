"""The bench's timeline handlers: what each watched object's state means (pure, no cluster:
the handlers take the objects a watch delivers)."""

from __future__ import annotations

from workshop.bench.timeline import Timeline


def _claim(name: str, consolidatable: str | None = None, deleting: bool = False) -> dict:
    conds = [{"type": "Launched", "status": "True"}]
    if consolidatable:
        conds.append({"type": "Consolidatable", "status": consolidatable})
    meta = {"name": name, **({"deletionTimestamp": "2026-12-06T19:05:18Z"} if deleting else {})}
    return {"metadata": meta, "status": {"conditions": conds}}


def test_consolidatable_marks_the_latest_turn_to_true_and_survives_a_reset():
    tl = Timeline("bench", "app=scale")
    tl.on_claim("ADDED", _claim("a", "True"), 1.0)
    tl.on_claim("ADDED", _claim("b"), 1.0)
    assert tl.marks.claims == {"a", "b"} and tl.marks.consolidatable_now == {"a"}
    tl.reset()  # a claim that is Consolidatable stays so: no new event will say it again
    assert tl.marks.consolidatable_now == {"a"} and tl.marks.consolidatable == {}
    tl.on_claim("MODIFIED", _claim("a", "True"), 2.0)  # no turn: no mark
    tl.on_claim("MODIFIED", _claim("b", "True"), 3.0)
    tl.on_claim("MODIFIED", _claim("a"), 4.0)            # a pod event cleared it ...
    tl.on_claim("MODIFIED", _claim("a", "True"), 9.0)    # ... and it turned again
    assert tl.marks.consolidatable == {"b": 3.0, "a": 9.0}


def test_deleting_is_the_first_sight_of_a_deletion_and_deleted_claims_leave():
    tl = Timeline("bench", "app=scale")
    tl.on_claim("ADDED", _claim("a", "True"), 1.0)
    tl.on_claim("MODIFIED", _claim("a", "True", deleting=True), 5.0)
    tl.on_claim("MODIFIED", _claim("a", "True", deleting=True), 6.0)
    assert tl.marks.deleting == {"a": 5.0}
    tl.on_claim("DELETED", _claim("a", "True", deleting=True), 7.0)
    assert tl.marks.claims == set() and tl.marks.consolidatable_now == set()


def test_a_deleted_pod_is_marked_gone_once():
    tl = Timeline("bench", "app=scale")
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n"}, "status": {}}
    tl.on_pod("ADDED", pod, 1.0)
    tl.on_pod("DELETED", pod, 2.0)
    tl.on_pod("DELETED", pod, 3.0)
    assert tl.marks.bound == {"p": 1.0} and tl.marks.pod_gone == {"p": 2.0}


def test_a_new_list_reports_what_vanished_while_no_watch_was_open():
    from workshop.bench.timeline import vanished

    alive = {("bench", "a"): {"namespace": "bench", "name": "a"},
             ("", "node-1"): {"name": "node-1"}}
    items = [{"metadata": {"namespace": "bench", "name": "a"}}]
    assert vanished(alive, items) == [{"name": "node-1"}]
    assert vanished(alive, items + [{"metadata": {"name": "node-1"}}]) == []
    # and the handlers take that bare metadata as a deletion
    tl = Timeline("bench", "app=scale")
    tl.on_node("ADDED", {"metadata": {"name": "node-1"}}, 1.0)
    for meta in vanished(alive, items):
        tl.on_node("DELETED", {"metadata": meta}, 2.0)
    assert tl.marks.nodes == set() and tl.marks.node_gone == {"node-1": 2.0}
