"""Check builders named for the fact they check, so a lesson module reads like its contract.

    deployment_in_namespace("1.1.deployment", "inflate")
    pods_ready_on_pool("1.1.ready", "inflate", 5, "system-service-general-purpose")

Each builder returns a `grading.Check` whose function takes the lesson's `Context`
(`ctx.namespace`, `ctx.catalog`, see workshop/grading/lessons.py) and looks at the live cluster.
Every diagnosis lives here once: a lesson only says which fact, which object, which values.
"""

from __future__ import annotations

import time
from collections import Counter
from fractions import Fraction
from typing import Any, Callable, Collection, Iterable, Mapping

from workshop.instances import catalog, eks_labels
from workshop.stack import karpenter
from workshop.k8s import kube, observe, orphans, pending, usage
from workshop.grading import lessons
from workshop import paths
from workshop.platform import defaults as platform
from workshop.grading.core import (
    Check, ClusterUnavailable, Outcome, failed, missing, passed, waiting,
)

DEPLOYMENT_API = "apps/v1"
NODEPOOL_API = platform.NODEPOOL_API
NODECLASS_GROUP = platform.NODECLASS_API.split("/")[0]
NODECLASS_KIND = "KWOKNodeClass"

# Pods should be Ready within a minute (kwok nodes start at once; Karpenter batches for at
# most 3 s). Empty nodes go after consolidateAfter + Karpenter's 10 s poll + 15 s validation.
READY_WAIT_S = 60
CONSOLIDATION_WAIT_S = 60
NODEPOOL_READY_WAIT_S = 15
# Karpenter posts "cannot schedule" once per pod and keeps it for minutes, so a quoted
# event may predate the learner's fix. Only call it final once it has held this long
# across consecutive polls (Karpenter reacts to a fix within its 3 s batch window).
KARPENTER_VERDICT_HOLD_S = 6

# Labels Karpenter or the kubelet put on every node besides the catalog's.
NODE_LABEL_KEYS = frozenset({
    "kubernetes.io/hostname", "karpenter.sh/nodepool", "karpenter.sh/initialized",
    "karpenter.sh/registered", "karpenter.kwok.sh/kwoknodeclass", "type",
})


def _check(check_id: str, title: str, fn: Callable[[Any], Outcome], options: dict,
           wait_s: float = 0) -> Check:
    """A Check; `options` (depends_on, points, wait_s, poll_s) override the builder's defaults."""
    return Check(check_id, title, fn, **{"wait_s": wait_s, **options})


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------ the environment


def cluster_reachable(check_id: str, title: str = "The cluster's API server answers",
                      **options) -> Check:
    def fn(ctx) -> Outcome:
        if not kube.ready():
            # Nothing else can be checked: the runner stops and repeats this on every check.
            raise ClusterUnavailable("the workshop cluster is not running (no API server)",
                                     "run `make up` to start it")
        return passed("API server answers", "API server answers")

    return _check(check_id, title, fn, options)


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

    return _check(check_id, title, fn, options)


def _condition_text(cond: Mapping | None) -> str:
    if not cond:
        return "no status yet"
    text = f"{cond.get('type')}={cond.get('status')} {cond.get('reason') or ''}".strip()
    return f"{text}: {cond['message']}" if cond.get("message") else text


def nodeclass_ready(check_id: str, name: str = platform.NODECLASS,
                    title: str = "The platform's node class is Ready", **options) -> Check:
    def fn(ctx) -> Outcome:
        obj = kube.get(platform.NODECLASS_API, NODECLASS_KIND, name)
        where = f"{NODECLASS_KIND} {name}"
        if obj is None:
            return missing(f"{where}, Ready",
                           "the platform's node class is gone: run `make up` to restore it", where)
        if not kube.is_true(obj, "Ready"):
            return failed("Ready", _condition_text(kube.condition(obj, "Ready")),
                          "run `make up`: it re-applies and marks the platform's node class", where)
        return passed("Ready", "Ready")

    return _check(check_id, title, fn, options)


def _platform_spec(name: str) -> dict:
    for obj in kube.load_manifest_files(platform.manifest_files()):
        if obj["kind"] == "NodePool" and obj["metadata"]["name"] == name:
            return obj["spec"]
    raise KeyError(f"no NodePool {name} in {paths.PLATFORM_DIR}")


def _spec_diff(want: Any, live: Any, path: str) -> tuple[list[str], list[str]]:
    """(changed, added) field paths: values differing from the manifest, fields it lacks."""
    if isinstance(want, dict) and isinstance(live, dict):
        changed: list[str] = []
        added: list[str] = []
        for key in want:
            c, a = _spec_diff(want[key], live.get(key), f"{path}.{key}")
            changed += c
            added += a
        added += [f"{path}.{key}" for key in live if key not in want]
        return changed, added
    if live is None:
        return [f"{path} removed"], []
    # Scalars by str(): a limit written `1000` or `"1000"` is the same value.
    same = want == live if isinstance(want, list) else str(want) == str(live)
    return ([] if same else [f"{path}: {_short(live)} (platform: {_short(want)})"]), []


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def default_nodepool_intact(check_id: str, name: str, title: str | None = None, **options) -> Check:
    """A platform NodePool exists, matches cluster/platform/ and is Ready."""
    where = f"NodePool {name}"

    def fn(ctx) -> Outcome:
        live = _nodepool(name)
        if live is None:
            return missing(f"{where}, as the platform installs it",
                           "a platform default NodePool was deleted: run `make up` to restore it",
                           where)
        changed, added = _spec_diff(_platform_spec(name), live.get("spec") or {}, "spec")
        if added:
            return failed("the platform's spec", "added by hand: " + ", ".join(added[:3]),
                          f"platform defaults are not edited by hand: remove what was added "
                          f"(`kubectl edit nodepool {name}`), then run `make up` to restore it",
                          where)
        if changed:
            return failed("the platform's spec", "; ".join(changed[:3]),
                          "platform defaults are not edited by hand: run `make up` to restore "
                          "it (a custom NodePool is where your own settings go)", where)
        return _readiness(live, where, "as installed, Ready")

    return _check(check_id, title or f"Default NodePool {name} is untouched and Ready", fn,
                  options, wait_s=NODEPOOL_READY_WAIT_S)


# ------------------------------------------------------------------ NodePools


def _nodepool(name: str) -> dict | None:
    return kube.get(NODEPOOL_API, "NodePool", name)


def _absent_nodepool(name: str) -> Outcome:
    return missing(f"NodePool {name}",
                   f"create NodePool `{name}` (cluster-scoped: it has no namespace)",
                   f"NodePool {name}")


def _with_nodepool(name: str, fn: Callable[[Any, dict], Outcome]) -> Callable[[Any], Outcome]:
    """A check function that looks at NodePool `name` (`missing` while there is none)."""
    def check(ctx) -> Outcome:
        pool = _nodepool(name)
        return _absent_nodepool(name) if pool is None else fn(ctx, pool)

    return check


def nodepool_exists(check_id: str, name: str, title: str | None = None, **options) -> Check:
    return _check(check_id, title or f"NodePool {name} exists",
                  _with_nodepool(name, lambda ctx, pool: passed("exists", "exists")), options)


def _template_spec(pool: dict) -> dict:
    return ((pool.get("spec") or {}).get("template") or {}).get("spec") or {}


def nodepool_uses_nodeclass(check_id: str, name: str, nodeclass: str = platform.NODECLASS,
                            title: str | None = None, **options) -> Check:
    want = {"group": NODECLASS_GROUP, "kind": NODECLASS_KIND, "name": nodeclass}
    where = f"NodePool {name} .spec.template.spec.nodeClassRef"

    def fn(ctx, pool: dict) -> Outcome:
        ref = _template_spec(pool).get("nodeClassRef") or {}
        found = "/".join(str(ref.get(k, "?")) for k in ("group", "kind", "name"))
        expected = "/".join(want.values())
        if ref.get("group") != want["group"] or ref.get("kind") != want["kind"]:
            return failed(expected, found,
                          f"this cluster runs Karpenter's kwok provider: its node classes are "
                          f"kind {NODECLASS_KIND} in group {NODECLASS_GROUP} (EC2NodeClass is "
                          "the AWS provider's)", where)
        if ref.get("name") != nodeclass:
            return failed(expected, found,
                          f"there is no node class named `{ref.get('name')}`: "
                          "`kubectl get kwoknodeclasses` lists the platform's", where)
        return passed(expected, found, where)

    return _check(check_id, title or f"NodePool {name} uses node class {nodeclass}",
                  _with_nodepool(name, fn), options)


def _readiness(pool: dict, where: str, ok: str = "Ready") -> Outcome:
    """Ready passes; False quotes Karpenter's reason; no verdict yet is `waiting`."""
    conds = (pool.get("status") or {}).get("conditions") or []
    ready = kube.condition(pool, "Ready")
    if ready and ready.get("status") == "True":
        return passed(ok, ok, where)
    if not (ready and ready.get("status") == "False"):
        ref = _template_spec(pool).get("nodeClassRef") or {}
        if not conds and (ref.get("group"), ref.get("kind")) != (NODECLASS_GROUP, NODECLASS_KIND):
            # Seen on v1.14: Karpenter never reconciles (nor reports on) a NodePool whose
            # node class kind it does not serve; waiting for a status would wait forever.
            return failed("Ready", "no status: Karpenter ignores this NodePool",
                          f"Karpenter ignores a NodePool whose nodeClassRef is not a "
                          f"{NODECLASS_KIND} ({NODECLASS_GROUP}): check nodeClassRef", where)
        return waiting("Ready", _condition_text(ready),
                       "Karpenter has not reported on this NodePool yet", where)
    # Ready=False only says "UnhealthyDependents": the dependent conditions say why.
    why = [c for c in conds if c.get("type") != "Ready" and c.get("status") == "False"]
    found = "; ".join(_condition_text(c) for c in (why or [ready]))
    kinds = {c.get("type") for c in why}
    if "NodeClassReady" in kinds:
        hint = ("Karpenter cannot find or use the node class this NodePool references: "
                "check nodeClassRef")
    elif "ValidationSucceeded" in kinds:
        hint = "Karpenter rejected this NodePool's spec: the message says which field"
    else:
        hint = "the NodePool is not Ready: read Karpenter's reason"
    return failed("Ready", found, hint, where)


def nodepool_ready(check_id: str, name: str, title: str | None = None, **options) -> Check:
    where = f"NodePool {name} .status.conditions"
    fn = _with_nodepool(name, lambda ctx, pool: _readiness(pool, where))
    return _check(check_id, title or f"NodePool {name} is Ready", fn, options,
                  wait_s=NODEPOOL_READY_WAIT_S)


def learner_nodepool(exercise: str, name: str, ready: bool = True) -> list[Check]:
    """The checks every exercise about a learner's own NodePool starts with: it exists
    (`<exercise>.nodepool`), uses the platform's node class (`.nodeclass`) and, unless
    ready=False, is Ready (`.ready`). The checks after them should depend on
    `<exercise>.nodepool`."""
    after = {"depends_on": [f"{exercise}.nodepool"]}
    checks = [nodepool_exists(f"{exercise}.nodepool", name),
              nodepool_uses_nodeclass(f"{exercise}.nodeclass", name, **after)]
    if ready:
        checks.append(nodepool_ready(f"{exercise}.ready", name, **after))
    return checks


def _known_values(offerings: Iterable[catalog.Offering], key: str) -> list[str]:
    return sorted({o.labels[key] for o in offerings if key in o.labels})


def _requirement_key_problem(cat: catalog.Catalog, reqs: list[dict]) -> str | None:
    """A hint for the first requirement key EKS would reject or that narrows nothing.

    Checked even when the admitted set is right: a misspelt key narrows nothing here, and
    on EKS a key in a restricted domain keeps the NodePool from ever being Ready.
    """
    for req in reqs:
        key = str(req.get("key", ""))
        if key in cat.label_keys or key in eks_labels.EKS_WELL_KNOWN:
            continue
        if eks_labels.restricted_on_eks(key):
            why = ("Karpenter reserves it" if key in eks_labels.RESTRICTED_LABELS else
                   f"its domain `{eks_labels.domain(key)}` is restricted")
            return (f"`{key}` is not a well-known label, and {why}: on EKS Karpenter "
                    "rejects this NodePool (it is never Ready); check the key's spelling")
        if eks_labels.looks_well_known(key):
            # Custom keys (team: ...) just become node labels; a misspelt well-known key
            # silently narrows nothing, which is worth saying.
            return (f"no offering carries label `{key}`: this requirement narrows nothing "
                    "(check the key's spelling)")
    return None


def _kwok_only_remark(reqs: list[dict]) -> str | None:
    """A pass's remark when a requirement uses a key only the kwok provider has."""
    for req in reqs:
        aws = eks_labels.KWOK_TO_AWS.get(str(req.get("key", "")))
        if aws:
            return (f"accepted, but `{req['key']}` exists only in Karpenter's kwok provider: "
                    f"on EKS write `{aws}`")
    return None


def _requirement_problem(cat: catalog.Catalog, reqs: list[dict]) -> str | None:
    """A hint for the first requirement that can never mean what it says, else None."""
    for req in reqs:
        key, op, values = req.get("key", ""), req.get("operator"), req.get("values") or []
        if key not in cat.label_keys:
            continue
        if op not in ("In", "NotIn"):
            continue
        known = _known_values(cat.offerings, key)
        unknown = [v for v in values if v not in known]
        if unknown:
            return (f"no offering has `{key}` = `{unknown[0]}` (values are exact and "
                    f"case-sensitive; offerings use: {', '.join(known[:8])})")
    return None


# How two sets of offerings can differ, most telling first: a pool with no family
# requirement admits every family its other requirements allow (on EKS, many).
_OFFERING_DIMENSIONS: list[tuple[str, Callable[[catalog.Offering], str]]] = [
    ("instance families", lambda o: o.family),
    ("architectures", lambda o: o.arch),
    ("capacity types", lambda o: o.capacity_type),
    ("zones", lambda o: o.zone),
]


def _set_difference_hint(expected: Collection[catalog.Offering],
                         found: Collection[catalog.Offering]) -> str:
    """Say along which dimension the admitted offerings differ from the asked ones."""
    extra, lacking = set(found) - set(expected), set(expected) - set(found)
    for what, value in _OFFERING_DIMENSIONS:
        more = sorted({value(o) for o in extra} - {value(o) for o in expected})
        if more:
            return (f"these requirements also admit other {what} ({', '.join(more[:6])}): "
                    f"narrow the {what} to the ones the exercise asks for")
        fewer = sorted({value(o) for o in lacking} - {value(o) for o in found})
        if fewer:
            return (f"these requirements leave out {what} the exercise asks for "
                    f"({', '.join(fewer[:6])}): widen them")
    return ("these requirements admit other offerings than the exercise asks for: "
            "narrow or widen them")


def nodepool_admits_exactly(check_id: str, name: str, expected_requirements: list[dict],
                            title: str | None = None, **options) -> Check:
    """The offerings a NodePool's requirements admit are exactly those of `expected_requirements`.

    Graded on meaning, not spelling: any requirements admitting the same offerings pass.
    """
    where = f"NodePool {name} .spec.template.spec.requirements"

    def fn(ctx, pool: dict) -> Outcome:
        cat = ctx.catalog
        expected = cat.admitted(expected_requirements)
        want = catalog.describe_set(expected)
        reqs = list(_template_spec(pool).get("requirements") or [])
        try:
            found = cat.admitted(reqs)
        except catalog.CatalogError as exc:
            return failed(want, exc.message, "fix this requirement's operator or values", where)
        key_problem = _requirement_key_problem(cat, reqs)
        if key_problem:
            return failed(want, catalog.describe_set(found), key_problem, where)
        if found == expected:
            remark = _kwok_only_remark(reqs)
            shown = catalog.describe_set(found)
            return passed(want, f"{remark} ({shown})" if remark else shown, where)
        problem = _requirement_problem(cat, reqs)
        if problem:
            return failed(want, catalog.describe_set(found), problem, where)
        if not found:
            return failed(want, "no offerings",
                          "no offering satisfies all these requirements together: Karpenter "
                          "could never launch a node (compare with the catalog)", where)
        return failed(want, catalog.diff_sets(expected, found),
                      _set_difference_hint(expected, found), where)

    return _check(check_id, title or f"NodePool {name} admits exactly the asked offerings",
                  _with_nodepool(name, fn), options)


def nodepool_template_labels(check_id: str, name: str, labels: Mapping[str, str],
                             title: str | None = None, absent_hint: str | None = None,
                             **options) -> Check:
    where = f"NodePool {name} .spec.template.metadata.labels"
    expected = ", ".join(f"{k}: {v}" for k, v in labels.items())

    def fn(ctx, pool: dict) -> Outcome:
        have = (((pool.get("spec") or {}).get("template") or {}).get("metadata") or {}
                ).get("labels") or {}
        found = ", ".join(f"{k}: {v}" for k, v in have.items()) or "no labels"
        for key, value in labels.items():
            if have.get(key) == value:
                continue
            if key in have:
                return failed(expected, found,
                              f"label `{key}` has value `{have[key]}`: check the value's "
                              "spelling", where)
            if value in have.values():
                other = next(k for k, v in have.items() if v == value)
                return failed(expected, found,
                              f"label key `{other}` is not the one asked for: check the key's "
                              "spelling", where)
            return failed(expected, found,
                          absent_hint or f"no label `{key}`: labels under template.metadata "
                          "become node labels, which pods select", where)
        return passed(expected, found, where)

    return _check(check_id, title or f"NodePool {name} labels its nodes",
                  _with_nodepool(name, fn), options)


def _quantity_hint(resource: str, text: str, want: Fraction) -> str:
    try:
        value = catalog.parse_quantity(text)
    except ValueError:
        return f"`{text}` is not a Kubernetes quantity"
    if text.strip().isdigit() and resource == "memory":
        return (f"`{text}` without a unit means {text} bytes: memory quantities need a unit "
                "such as Mi or Gi")
    if value * 1024**3 == want * 1000**3 or value * 1024**2 == want * 1000**2:
        return "decimal units (M, G) are powers of 1000; binary units (Mi, Gi) powers of 1024"
    if resource == "cpu" and value == want * 1000:
        return (f"`{text}` is {text} CPUs, not millicores: a plain number counts whole CPUs "
                f"(`{text}m` would be millicores)")
    return f"the {resource} limit differs from the one asked for: check the number and unit"


def nodepool_limits(check_id: str, name: str, limits: Mapping[str, str],
                    title: str | None = None, **options) -> Check:
    """spec.limits equal `limits` by value (`16000m` == `16`, `65536Mi` == `64Gi`)."""
    where = f"NodePool {name} .spec.limits"
    expected = ", ".join(f"{k}: {v}" for k, v in limits.items())

    def fn(ctx, pool: dict) -> Outcome:
        have = (pool.get("spec") or {}).get("limits") or {}
        found = ", ".join(f"{k}: {v}" for k, v in have.items()) or "no limits"
        for resource, text in limits.items():
            want = catalog.parse_quantity(text)
            if resource not in have:
                return failed(expected, found,
                              f"no {resource} limit: without one a NodePool grows without "
                              "bound", where)
            got = str(have[resource])
            try:
                same = catalog.parse_quantity(got) == want
            except ValueError:
                same = False
            if not same:
                return failed(expected, found, _quantity_hint(resource, got, want), where)
        return passed(expected, found, where)

    return _check(check_id, title or f"NodePool {name} has the asked limits",
                  _with_nodepool(name, fn), options)


# ------------------------------------------------------------------ Deployments


def _deployment(ctx, name: str) -> dict | None:
    return kube.get(DEPLOYMENT_API, "Deployment", name, ctx.namespace)


def _absent_deployment(ctx, name: str) -> Outcome:
    return missing(f"Deployment {name} in namespace {ctx.namespace}",
                   f"create it first (metadata.namespace: {ctx.namespace})",
                   f"Deployment {ctx.namespace}/{name}")


def _with_deployment(name: str, fn: Callable[[Any, dict], Outcome]) -> Callable[[Any], Outcome]:
    """A check function that looks at Deployment `name` in the lesson's namespace."""
    def check(ctx) -> Outcome:
        dep = _deployment(ctx, name)
        return _absent_deployment(ctx, name) if dep is None else fn(ctx, dep)

    return check


def deployment_in_namespace(check_id: str, name: str, title: str | None = None, **options) -> Check:
    def fn(ctx) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name}"
        if _deployment(ctx, name) is not None:
            return passed(f"in {ctx.namespace}", f"in {ctx.namespace}", where)
        elsewhere = sorted(d["metadata"]["namespace"]
                           for d in kube.list_(DEPLOYMENT_API, "Deployment")
                           if d["metadata"]["name"] == name)
        if elsewhere:
            return failed(f"in namespace {ctx.namespace}", "in " + ", ".join(elsewhere),
                          f"wrong namespace: it is in `{elsewhere[0]}`; this lesson works "
                          f"in `{ctx.namespace}`", where)
        return missing(f"Deployment {name} in namespace {ctx.namespace}",
                       f"create it in namespace `{ctx.namespace}`", where)

    return _check(check_id, title or f"Deployment {name} exists in the lesson's namespace", fn,
                  options)


def _containers(dep: dict) -> list[dict]:
    return ((((dep.get("spec") or {}).get("template") or {}).get("spec") or {})
            .get("containers") or [])


def _pod_spec(dep: dict) -> dict:
    return ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}


def deployment_image(check_id: str, name: str, image: str, title: str | None = None,
                     **options) -> Check:
    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec.containers[].image"
        images = [c.get("image", "") for c in _containers(dep)]
        if images and all(i == image for i in images):
            return passed(image, image, where)
        wrong = next((i for i in images if i != image), "no containers")
        same_repo = wrong.split(":")[0] == image.split(":")[0]
        hint = ("right image, other tag: check the tag after `:`" if same_repo
                else "check the image name against the exercise")
        return failed(image, wrong, hint, where)

    return _check(check_id, title or f"Deployment {name} runs {image}",
                  _with_deployment(name, fn), options)


def _replicas(dep: dict) -> int:
    value = (dep.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)  # the API's default


def deployment_replicas(check_id: str, name: str, count: int, title: str | None = None,
                        **options) -> Check:
    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.replicas"
        have = _replicas(dep)
        if have == count:
            return passed(count, have, where)
        return failed(count, have, f"the Deployment keeps {_plural(have, 'pod')}: "
                      "spec.replicas sets how many", where)

    return _check(check_id, title or f"Deployment {name} has {count} replicas",
                  _with_deployment(name, fn), options)


# What the scheduler and Karpenter see (requests default to limits): workshop/k8s/usage.py.
effective_requests = usage.effective_requests


def container_requests(check_id: str, name: str, cpu: str, memory: str | None,
                       title: str | None = None, **options) -> Check:
    """Every container requests exactly `cpu` and `memory` (compared by value), as the
    scheduler sees it: requests left out default to the limits. memory None: the exercise
    asks only for CPU, any memory request passes."""
    want = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    expected = f"cpu {cpu}" + (f", memory {memory}" if memory else "") + " per pod"

    def fn(ctx, dep: dict) -> Outcome:
        where = (f"Deployment {ctx.namespace}/{name} "
                 ".spec.template.spec.containers[].resources.requests")
        from_limits: set[str] = set()
        for c in _containers(dep):
            requests = effective_requests(c)
            written = (c.get("resources") or {}).get("requests") or {}
            from_limits |= {r for r in want if r in requests and r not in written}
            absent = [r for r in want if r not in requests]
            if absent:
                found = f"container {c.get('name')}: no {' or '.join(absent)} request or limit"
                what = "no requests" if len(absent) == len(want) else f"no {absent[0]} request"
                return failed(expected, found,
                              f"{what}: Karpenter sizes nodes from pods' requests, so "
                              "without them it cannot choose an instance type that fits", where)
            for resource, text in want.items():
                if catalog.parse_quantity(str(requests[resource])) != catalog.parse_quantity(text):
                    source = "limit, so its request" if resource not in written else "request"
                    found = f"container {c.get('name')}: {resource} {source} {requests[resource]}"
                    return failed(expected, found,
                                  f"the {resource} request differs: check the number and its "
                                  "unit (m = thousandths of a CPU; Mi/Gi for memory)", where)
        if from_limits:
            return passed(expected, f"accepted: {expected} (no {' or '.join(sorted(from_limits))} "
                          "request written, so Kubernetes sets it equal to the limit)", where)
        return passed(expected, expected, where)

    return _check(check_id, title or f"Deployment {name}'s pods request {cpu} CPU"
                  + (f" and {memory}" if memory else ""),
                  _with_deployment(name, fn), options)


def learner_deployment(exercise: str, name: str, replicas: int, cpu: str | None = None,
                       memory: str | None = None) -> list[Check]:
    """The checks every exercise about a learner's Deployment starts with: it is in the
    lesson's namespace (`<exercise>.deployment`), keeps `replicas` pods (`.replicas`) and,
    when `cpu` is given, requests that much (and `memory`, when given) per pod (`.requests`).
    The checks after them should depend on `<exercise>.deployment`."""
    after = {"depends_on": [f"{exercise}.deployment"]}
    checks = [deployment_in_namespace(f"{exercise}.deployment", name),
              deployment_replicas(f"{exercise}.replicas", name, replicas, **after)]
    if cpu is not None:
        checks.append(container_requests(f"{exercise}.requests", name, cpu=cpu, memory=memory,
                                         **after))
    return checks


# ------------------------------------------------------------------ node selection


def _known_node_labels(ctx) -> dict[str, set[str]]:
    """Every label key (with its values) a node here has or could get."""
    known: dict[str, set[str]] = {k: set() for k in NODE_LABEL_KEYS}
    for o in ctx.catalog.offerings:
        for k, v in o.labels.items():
            known.setdefault(k, set()).add(v)
    for pool in kube.list_(NODEPOOL_API, "NodePool"):
        known["karpenter.sh/nodepool"].add(pool["metadata"]["name"])
        template = (pool.get("spec") or {}).get("template") or {}
        for k, v in ((template.get("metadata") or {}).get("labels") or {}).items():
            known.setdefault(k, set()).add(v)
        for req in (template.get("spec") or {}).get("requirements") or []:
            # Custom keys' single values become node labels; catalog keys' values are
            # only what the catalog offers (a NodePool asking for `Spot` gets nothing).
            if req.get("key") not in ctx.catalog.label_keys and req.get("operator") == "In":
                known.setdefault(req["key"], set()).update(req.get("values") or [])
    for info in observe.node_infos().values():
        for k, v in info.labels.items():
            known.setdefault(k, set()).add(v)
    return known


def _terms(pod_spec: dict, kind: str) -> list:
    node_aff = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    if kind == "required":
        return ((node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
                .get("nodeSelectorTerms") or [])
    return [p.get("preference") or {}
            for p in node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def _allows(pod_spec: dict, key: str, value: str | None) -> bool:
    """Would the REQUIRED rules accept a node whose `key` label is `value` (None: absent)?

    Rules on other keys are ignored: this asks only about `key`.
    """
    labels = {} if value is None else {key: value}
    selector = pod_spec.get("nodeSelector") or {}
    if key in selector and selector[key] != value:
        return False
    terms = _terms(pod_spec, "required")
    if not terms:
        return True
    # Terms are ORed; a term's expressions ANDed (Kubernetes semantics).
    return any(catalog.matches([e for e in t.get("matchExpressions") or [] if e.get("key") == key],
                               labels) for t in terms)


def _mentioned(pod_spec: dict, kind: str) -> list[tuple[str, list[str]]]:
    """(key, values) of each rule: nodeSelector and expressions of required or preferred terms."""
    found: list[tuple[str, list[str]]] = []
    if kind == "required":
        found += [(k, [v]) for k, v in (pod_spec.get("nodeSelector") or {}).items()]
    for term in _terms(pod_spec, kind):
        found += [(e.get("key", ""), list(e.get("values") or []))
                  for e in term.get("matchExpressions") or []]
    return found


def pod_template_requires_label(check_id: str, name: str, key: str, values: list[str],
                                unconstrained_hint: str, title: str | None = None,
                                **options) -> Check:
    """The Deployment's pods may only run on nodes whose `key` label is one of `values`.

    Required means nodeSelector or required node affinity (either spelling passes); a
    preferred rule is only a wish and does not count.
    """
    expected = f"required {key} in ({', '.join(values)})"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.template.spec (nodeSelector / affinity)"
        spec = _pod_spec(dep)
        known = _known_node_labels(ctx)
        required = _mentioned(spec, "required")
        universe = set(known.get(key, set())) | set(values) | {
            v for k, vs in required if k == key for v in vs}
        # Nodes without the label exist unless every offering carries it (capacity type does).
        candidates: list[str | None] = sorted(universe)
        if not all(key in o.labels for o in ctx.catalog.offerings):
            candidates.append(None)
        allowed = {v for v in candidates if _allows(spec, key, v)}
        shown = ", ".join("(no label)" if v is None else v
                          for v in sorted(allowed, key=lambda v: (v is None, v or "")))
        if allowed == set(values):
            return passed(expected, f"required {key} in ({shown})", where)
        on_key = [vs for k, vs in required if k == key]
        if not on_key:
            unknown_keys = [k for k, _ in required if k not in known]
            if unknown_keys:
                return failed(expected, f"selects on `{unknown_keys[0]}`",
                              f"no node has a label `{unknown_keys[0]}`: select on a key nodes "
                              "carry (`kubectl get nodes --show-labels`)", where)
            if any(k == key for k, _ in _mentioned(spec, "preferred")):
                return failed(expected, f"only a preferred rule on {key}",
                              "preferred is only a wish: the scheduler may still place pods "
                              "elsewhere; this needs a required rule", where)
            return failed(expected, f"nothing requires {key}", unconstrained_hint, where)
        unknown = [v for vs in on_key for v in vs if v not in known.get(key, set())]
        if unknown:
            return failed(expected, f"requires {key} = {unknown[0]}",
                          f"no node carries `{key}={unknown[0]}`: label values are exact and "
                          "case-sensitive", where)
        return failed(expected, f"allows {key} in ({shown or 'nothing'})",
                      f"the rule on {key} allows other values than the exercise asks for", where)

    return _check(check_id, title or f"Deployment {name}'s pods require {key}",
                  _with_deployment(name, fn), options)


# ------------------------------------------------------------------ pods and nodes


# One reading of a pending pod's events (workshop/k8s/pending.py); these names stay importable
# from here because lessons' graders call them.
why_pending = pending.why_pending
pending_hint = pending.pending_hint


class _Holding:
    """How long the same verdict has held across consecutive polls of one check."""

    def __init__(self, gap_s: float = 5.0):
        self.gap_s = gap_s
        self.key: object = None
        self.since = self.last = 0.0

    def seconds(self, key: object) -> float:
        now = time.monotonic()
        # A new run (a gap since the last poll) or a new verdict starts the clock again.
        if key != self.key or now - self.last > self.gap_s:
            self.key, self.since = key, now
        self.last = now
        return now - self.since


def _describe_nodes(infos: Iterable[observe.NodeInfo]) -> str:
    counts = Counter(f"{i.nodepool or 'no NodePool'} ({i.instance_type} {i.capacity_type})"
                     for i in infos)
    return ", ".join(f"{n} on {what}" for what, n in counts.most_common(3))


def _rolling(dep: dict) -> bool:
    st = dep.get("status") or {}
    want = _replicas(dep)
    return (st.get("observedGeneration") != dep["metadata"].get("generation")
            or (st.get("updatedReplicas") or 0) < want or (st.get("replicas") or 0) > want)


def _selector(dep: dict) -> str:
    labels = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _pods_ready(check_id: str, name: str, count: int, on: Callable[[observe.NodeInfo], bool],
                on_text: str, misplaced_hint: str, title: str, options: dict) -> Check:
    holding = _Holding()
    expected = f"{count} Ready pods on {on_text}"

    def fn(ctx, dep: dict) -> Outcome:
        where = f"pods of Deployment {ctx.namespace}/{name}"
        if _replicas(dep) != count:
            return failed(expected, f"the Deployment asks for {_replicas(dep)}",
                          "fix the replica count first", where)
        infos = observe.node_infos()
        pods = [p for p in observe.pods(ctx.namespace, _selector(dep))
                if not p["metadata"].get("deletionTimestamp")]
        ready = [(p, infos.get(p["spec"].get("nodeName") or "")) for p in pods
                 if observe.is_ready(p)]
        good = [i for _, i in ready if i is not None and on(i)]
        bad = [i for _, i in ready if i is not None and not on(i)]
        pending = [p for p in pods if not (p.get("spec") or {}).get("nodeName")]
        progress = f"{len(good)} of {count} Ready on {on_text}"
        if len(good) == count and not bad and not pending:
            return passed(expected, f"{count} Ready: {_describe_nodes(good)}", where)
        if pending:
            verdict, event = why_pending(pending[0])
            found = f"{progress}; {_plural(len(pending), 'pod')} Pending"
            if verdict == "cannot":
                held = holding.seconds((pending[0]["metadata"]["uid"], event))
                if held >= KARPENTER_VERDICT_HOLD_S:
                    hint = pending_hint(event or "", _known_node_labels(ctx).keys())
                    return failed(expected, found, hint, where, event)
                return waiting(expected, found, "Karpenter says it cannot place them yet",
                               where, event)
            if verdict == "launching":
                return waiting(expected, found, "Karpenter is launching nodes for them",
                               where, event)
            return waiting(expected, found,
                           "Karpenter has not acted on them yet: is it running? "
                           "(`make status`)", where, event)
        holding.seconds(None)
        if bad and not _rolling(dep):
            return failed(expected, f"{len(bad)} Ready on other nodes: {_describe_nodes(bad)}",
                          _leftover_hint(ctx, bad) or misplaced_hint, where)
        return waiting(expected, progress, "the pods are starting (or rolling out)", where)

    return _check(check_id, title, _with_deployment(name, fn), options, wait_s=READY_WAIT_S)


def _leftover_hint(ctx, infos: Iterable[observe.NodeInfo]) -> str | None:
    """When pods sit on a NodePool another lesson owns, that lesson is in the way, not the
    learner's selector: name it and how to clear it."""
    for info in infos:
        owner = lessons.pool_owner(info.nodepool) if info.nodepool else None
        if owner is not None and owner != ctx.lesson:
            return (f"lesson {owner}'s NodePool {info.nodepool} is still in the cluster and "
                    f"its untainted nodes' spare room took some of these pods: clear it with "
                    f"`make reset-lesson-{owner}`, then check again")
    return None


def pods_ready_on_pool(check_id: str, name: str, count: int, pool: str,
                       misplaced_hint: str = "some pods run on nodes of another NodePool: "
                       "check how the pod template selects nodes",
                       title: str | None = None, **options) -> Check:
    return _pods_ready(check_id, name, count, lambda i: i.nodepool == pool,
                       f"{pool} nodes", misplaced_hint,
                       title or f"{count} pods of {name} Ready on {pool} nodes", options)


def pods_ready_with_node_label(check_id: str, name: str, count: int, key: str, value: str,
                               misplaced_hint: str, title: str | None = None,
                               **options) -> Check:
    return _pods_ready(check_id, name, count, lambda i: i.labels.get(key) == value,
                       f"nodes with {key}={value}", misplaced_hint,
                       title or f"{count} pods of {name} Ready on {key}={value} nodes", options)


# ------------------------------------------------------------------ scaling down


def deployment_scaled_to_zero(check_id: str, name: str, title: str | None = None,
                              **options) -> Check:
    def fn(ctx) -> Outcome:
        where = f"Deployment {ctx.namespace}/{name} .spec.replicas"
        dep = _deployment(ctx, name)
        if dep is None:
            # Only its events tell a Deployment the learner deleted from one never made
            # (a reset must clear them too, or it would look deleted).
            if not kube.events_for("Deployment", name, ctx.namespace):
                return missing(f"Deployment {name} scaled to 0",
                               f"there is no Deployment {name} in {ctx.namespace}: do the "
                               "earlier exercises first", where)
            # Deleting also frees the nodes: accepted, but scaling keeps the Deployment.
            return passed(0, "the Deployment was deleted (accepted; scaling to 0 would keep "
                          "it for later)", where)
        have = _replicas(dep)
        if have == 0:
            return passed(0, 0, where)
        return failed(0, have, f"the Deployment still keeps {_plural(have, 'pod')}", where)

    return _check(check_id, title or f"Deployment {name} is scaled to 0", fn, options)


def no_pods_left(check_id: str, owner: str, title: str | None = None, **options) -> Check:
    """No pod in the lesson's namespace keeps a node alive (the owner's may still be going)."""

    def fn(ctx) -> Outcome:
        where = f"pods in namespace {ctx.namespace}"
        dep = _deployment(ctx, owner)
        mine = set()
        if dep is not None:
            mine = {p["metadata"]["uid"] for p in observe.pods(ctx.namespace, _selector(dep))}
        live = [p for p in observe.pods(ctx.namespace)
                if not p["metadata"].get("deletionTimestamp")]
        others = [p for p in live if p["metadata"]["uid"] not in mine]
        if others:
            names = [p["metadata"]["name"] for p in others]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            found = ", ".join(f"{p['metadata']['name']} on "
                              f"{p['spec'].get('nodeName') or '(not scheduled)'}"
                              for p in others[:4])
            one = len(names) == 1
            return failed("no pods", found,
                          f"{shown} {'keeps its node' if one else 'keep their nodes'} alive: "
                          f"delete {'it' if one else 'them'} (or scale the owner to 0)", where)
        if live:
            return waiting("no pods", f"{_plural(len(live), 'pod')} of {owner} still running",
                           f"{owner}'s pods are going away", where)
        return passed("no pods", "no pods", where)

    # Polls only while the owner's own pods are still terminating.
    return _check(check_id, title or "No pods left in the lesson's namespace", fn, options,
                  wait_s=30)


def no_empty_nodes(check_id: str, pool: str, title: str | None = None, **options) -> Check:
    """Consolidation has removed every node of `pool` that no longer runs a pod."""
    where = f"nodes of NodePool {pool}"

    def fn(ctx) -> Outcome:
        orphans.sweep()  # a node whose NodeClaim is gone would stay empty forever
        nodes = observe.nodes(f"{observe.NODEPOOL_LABEL}={pool}")
        busy = {p["spec"].get("nodeName") for p in kube.list_("v1", "Pod")
                if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and not any(o.get("kind") == "DaemonSet"
                            for o in p["metadata"].get("ownerReferences") or [])}
        empty = [n["metadata"]["name"] for n in nodes if n["metadata"]["name"] not in busy]
        if not empty:
            return passed("no empty nodes", f"{_plural(len(nodes), 'node')}, none empty", where)
        return waiting("no empty nodes", f"{_plural(len(empty), 'empty node')}: "
                       + ", ".join(empty[:3]),
                       "Karpenter removes empty nodes after the NodePool's consolidateAfter; "
                       "give it a few more seconds", where)

    return _check(check_id, title or f"No empty {pool} nodes are left", fn, options,
                  wait_s=CONSOLIDATION_WAIT_S)
