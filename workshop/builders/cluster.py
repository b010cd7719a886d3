"""Check builders for the environment itself (lesson 00): the API server, Karpenter, the node
class and the platform's default NodePools."""

from __future__ import annotations

from workshop import paths
from workshop.grading.core import Check
from workshop.grading.core import ClusterUnavailable
from workshop.grading.core import Outcome
from workshop.grading.core import failed
from workshop.grading.core import missing
from workshop.grading.core import passed
from workshop.k8s import kube
from workshop.platform import defaults as platform
from workshop.stack import karpenter
from workshop.builders.base import (
    NODECLASS_KIND, NODEPOOL_READY_WAIT_S, condition_text, get_nodepool, make_check, ready_outcome, spec_diff,
)


def cluster_reachable(check_id: str, title: str = "The cluster's API server answers",
                      **options) -> Check:
    def fn(ctx) -> Outcome:
        if not kube.ready():
            # Nothing else can be checked: the runner stops and repeats this on every check.
            raise ClusterUnavailable("the workshop cluster is not running (no API server)",
                                     "run `make up` to start it")
        return passed("API server answers", "API server answers")

    return make_check(check_id, title, fn, options)


def karpenter_running(check_id: str, title: str = "Karpenter is running and ready",
                      **options) -> Check:
    def fn(ctx) -> Outcome:
        state = karpenter.state()
        where = "Karpenter (the kit runs it as a local process)"
        if not state.running:
            return failed("running", "not running",
                          "Karpenter is not running, so nothing launches nodes: run `make up` "
                          "to start it again", where)
        if not karpenter.healthy(state.health_port):
            return failed("ready (/readyz answers)", f"pid {state.pid} runs but is not ready",
                          "Karpenter is stuck: run `make up` to restart it "
                          "(`make status` shows its state)", where)
        return passed("running and ready", f"pid {state.pid}, ready")

    return make_check(check_id, title, fn, options)


def nodeclass_ready(check_id: str, name: str = platform.NODECLASS,
                    title: str = "The platform's node class is Ready", **options) -> Check:
    def fn(ctx) -> Outcome:
        obj = kube.get(platform.NODECLASS_API, NODECLASS_KIND, name)
        where = f"{NODECLASS_KIND} {name}"
        if obj is None:
            return missing(f"{where}, Ready",
                           "the platform's node class is gone: run `make up` to restore it", where)
        if not kube.is_true(obj, "Ready"):
            return failed("Ready", condition_text(kube.condition(obj, "Ready")),
                          "run `make up`: it re-applies and marks the platform's node class", where)
        return passed("Ready", "Ready")

    return make_check(check_id, title, fn, options)


def platform_spec(name: str) -> dict:
    for obj in kube.load_manifest_files(platform.manifest_files()):
        if obj["kind"] == "NodePool" and obj["metadata"]["name"] == name:
            return obj["spec"]
    raise KeyError(f"no NodePool {name} in {paths.PLATFORM_DIR}")


def default_nodepool_intact(check_id: str, name: str, title: str | None = None, **options) -> Check:
    """A platform NodePool exists, matches cluster/platform/ and is Ready."""
    where = f"NodePool {name}"

    def fn(ctx) -> Outcome:
        live = get_nodepool(name)
        if live is None:
            return missing(f"{where}, as the platform installs it",
                           "a platform default NodePool was deleted: run `make up` to restore it",
                           where)
        changed, added = spec_diff(platform_spec(name), live.get("spec") or {}, "spec")
        if added:
            return failed("the platform's spec", "added by hand: " + ", ".join(added[:3]),
                          f"platform defaults are not edited by hand: remove what was added "
                          f"(`kubectl edit nodepool {name}`), then run `make up` to restore it",
                          where)
        if changed:
            return failed("the platform's spec", "; ".join(changed[:3]),
                          "platform defaults are not edited by hand: run `make up` to restore "
                          "it (a custom NodePool is where your own settings go)", where)
        return ready_outcome(live, where, "as installed, Ready")

    return make_check(check_id, title or f"Default NodePool {name} is untouched and Ready", fn,
                      options, wait_s=NODEPOOL_READY_WAIT_S)
