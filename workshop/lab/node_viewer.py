"""The live node viewer: every node with its pool, instance type, zone, capacity type,
price per hour and how full it is, the pools against their limits, and pending pods with
the reason. Like eks-node-viewer, which people use on EKS to watch Karpenter work.

    viewer()                     # in a notebook: a widget, updated by watches
    viewer(pool="team-payments") # or namespace="lesson-02"; the dropdowns change it live
    workshop nodes [--once]      # in a terminal (live until Ctrl-C)

Bars are the pods' effective requests (requests, defaulting to limits) against the node's
allocatable: what the scheduler and Karpenter count, not what the pods use.

Rendering is rate-limited (at most RENDERS_PER_S; watch events in between are coalesced),
so a burst of 200 new nodes costs a handful of renders, not 200 times 200 rows.
"""

from __future__ import annotations

import atexit
import html
import sys
import threading
import time
from dataclasses import dataclass, field

from workshop.instances import catalog
from workshop.instances.quantity import quantity_or_zero
from workshop.k8s import pending, usage
from workshop.k8s.clusterwatch import ClusterWatch, NodeRow, Snapshot
from workshop.names import NODEPOOL_LABEL as NODEPOOL

RENDERS_PER_S = 4
GPU = catalog.GPU_RESOURCE
DONE_PHASES = ("Succeeded", "Failed")


# ---------------------------------------------------------------- the frame (what is shown)


@dataclass
class NodeLine:
    name: str
    pool: str
    instance_type: str
    zone: str
    capacity_type: str
    price: float | None
    used: usage.Requests
    allocatable: usage.Requests
    pods: int  # workload pods; DaemonSet pods are counted apart
    ready: bool
    deleting: bool
    daemon_pods: int = 0


@dataclass
class PoolLine:
    name: str
    weight: int
    nodes: int = 0
    price: float = 0.0
    limits: dict = field(default_factory=dict)  # resource -> (in use, limit) as text


@dataclass
class Frame:
    nodes: list[NodeLine]
    pools: list[PoolLine]
    pending: list[tuple[str, str, str]]  # (namespace, pod, reason)
    pods: int
    price: float
    used: usage.Requests
    allocatable: usage.Requests
    error: str | None
    pool_names: list[str]
    namespaces: list[str]
    # On a real cluster: what the account may not read (one line each), its pods on nodes
    # it cannot see (namespace, pod, node), and instance types the kit's catalog lacks.
    missing: list[str] = field(default_factory=list)
    unseen: list[tuple[str, str, str]] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    nodes_hidden: bool = False


_PRICES: dict = {}


def _catalog_price(it: str, zone: str, cap: str) -> float | None:
    """The kit's catalog price; on a real cluster (other zones, other regions) the type's
    cheapest price for that capacity type in the catalog's zones."""
    if not _PRICES:
        try:
            for o in catalog.load_catalog().offerings:
                _PRICES[(o.instance_type, o.zone, o.capacity_type)] = o.price
                any_zone = (o.instance_type, None, o.capacity_type)
                _PRICES[any_zone] = min(o.price, _PRICES.get(any_zone, o.price))
        except catalog.CatalogError:
            _PRICES[None] = None  # no catalog: prices come from node labels only
    found = _PRICES.get((it, zone, cap))
    return found if found is not None else _PRICES.get((it, None, cap))


def _price(n: NodeRow) -> float | None:
    # The kwok provider labels each node with its offering's price, as eks-node-viewer
    # reads on EKS; the catalog answers for nodes without the label.
    try:
        return float(n.labels[catalog.NODE_VIEWER_PRICE])
    except (KeyError, ValueError):
        return _catalog_price(n.labels.get(catalog.INSTANCE_TYPE, ""),
                              n.labels.get(catalog.ZONE, ""), n.labels.get(catalog.CAPACITY_TYPE, ""))


def _limit_text(resource: str, value) -> str:
    if resource == "memory":
        return f"{float(quantity_or_zero(value)) / 2**30:.4g}Gi"
    return f"{float(quantity_or_zero(value)):.4g}"


def frame(s: Snapshot, pool: str | None = None, namespace: str | None = None) -> Frame:
    by_node: dict[str, list] = {}
    for p in s.pods.values():
        if p.node and p.phase not in DONE_PHASES:
            by_node.setdefault(p.node, []).append(p)
    lines = []
    for n in s.nodes.values():
        here = by_node.get(n.name, [])
        if pool and n.labels.get(NODEPOOL, "") != pool:
            continue
        if namespace and not any(p.namespace == namespace for p in here):
            continue
        # Bars count every pod's requests, the DaemonSets' included (what Karpenter and the
        # scheduler count); the pod count is the workloads' only, as a node holding only
        # DaemonSet pods is empty to Karpenter.
        used = usage.Requests()
        for p in here:
            used = used + p.requests
        daemons = sum(p.daemon for p in here)
        lines.append(NodeLine(n.name, n.labels.get(NODEPOOL, ""), n.labels.get(catalog.INSTANCE_TYPE, ""),
                              n.labels.get(catalog.ZONE, ""), n.labels.get(catalog.CAPACITY_TYPE, ""),
                              _price(n), used, n.allocatable, len(here) - daemons, n.ready,
                              n.deleting, daemons))
    lines.sort(key=lambda x: (x.pool == "", x.pool, x.name))
    pools = {}
    for name, np in s.pools.items():
        spec = np.get("spec") or {}
        used = (np.get("status") or {}).get("resources") or {}
        limits = {r: (_limit_text(r, used.get(r, 0)), _limit_text(r, v))
                  for r, v in (spec.get("limits") or {}).items()}
        pools[name] = PoolLine(name, int(spec.get("weight") or 0), limits=limits)
    for line in lines:
        if line.pool:
            pl = pools.setdefault(line.pool, PoolLine(line.pool, 0))
            pl.nodes += 1
            pl.price += line.price or 0.0
    # Karpenter's order (see explain.ordered): weight, then the later name first.
    by_name = sorted((p for p in pools.values() if not pool or p.name == pool),
                     key=lambda p: p.name, reverse=True)
    shown_pools = sorted(by_name, key=lambda p: -p.weight)
    waiting = []
    for (ns, name), p in sorted(s.pods.items()):
        if p.node or p.phase != "Pending" or p.deleting or p.daemon or (namespace and ns != namespace):
            continue
        waiting.append((ns, name, pending.from_events(s.events.get((ns, name), [])).text))
    total_used = total_alloc = usage.Requests()
    for line in lines:
        total_used, total_alloc = total_used + line.used, total_alloc + line.allocatable
    # Only when the account may not read nodes: with node rights, a pod whose node is missing
    # sits on a node just deleted (garbage collection has not reached it yet), and the
    # platform's DaemonSet pods are never the learner's.
    unseen = sorted((p.namespace, p.name, p.node) for p in s.pods.values()
                    if "nodes" in s.hidden and p.node and p.node not in s.nodes
                    and p.phase not in DONE_PHASES and not p.daemon and not p.deleting
                    and (not namespace or p.namespace == namespace))
    unpriced = sorted({x.instance_type for x in lines if x.price is None and x.instance_type})
    return Frame(lines, shown_pools, waiting, sum(x.pods for x in lines),
                 sum(x.price or 0.0 for x in lines), total_used, total_alloc, s.error,
                 sorted(s.pools), sorted({p.namespace for p in s.pods.values()}),
                 list(s.missing), unseen, unpriced, "nodes" in s.hidden)


# ---------------------------------------------------------------- text (the terminal)


def _pct(used: int, total: int) -> float:
    return 100.0 * used / total if total else 0.0


def _bar(used: int, total: int, width: int = 10) -> str:
    filled = min(width, round(width * used / total)) if total else 0
    return "█" * filled + "·" * (width - filled) + f" {_pct(used, total):3.0f}%"


def _money(p: float | None) -> str:
    return f"${p:.4f}/h" if p is not None else "-"


def text(f: Frame, max_pending: int = 10) -> str:
    out = [f"{len(f.nodes)} nodes  {f.pods} pods  {_money(f.price)}  "
           f"CPU {_bar(f.used.cpu_millis, f.allocatable.cpu_millis)}  "
           f"memory {_bar(f.used.memory_bytes, f.allocatable.memory_bytes)}"]
    if f.error:
        out.append(f"! {f.error} (retrying)")
    for p in f.pools:
        lim = "  ".join(f"{r} {u}/{v}" for r, (u, v) in p.limits.items()) or "no limits"
        out.append(f"pool {p.name:32} weight {p.weight:<3} {p.nodes:3} nodes  "
                   f"{_money(p.price):>14}  {lim}")
    out.append("")
    for n in f.nodes:
        gpu = f"  GPU {_bar(n.used.gpus, n.allocatable.gpus, 4)}" if n.allocatable.gpus else ""
        state = "" if n.ready and not n.deleting else (" deleting" if n.deleting else " NotReady")
        out.append(f"{_short(n.name, n.pool):28} {n.pool[:30]:30} {n.instance_type:12} {n.zone:11} "
                   f"{n.capacity_type:9} {_money(n.price):>13}  "
                   f"CPU {_bar(n.used.cpu_millis, n.allocatable.cpu_millis)}  "
                   f"mem {_bar(n.used.memory_bytes, n.allocatable.memory_bytes)}{gpu}  "
                   f"{n.pods} pods{f' +{n.daemon_pods} ds' if n.daemon_pods else ''}{state}")
    if f.nodes_hidden:
        out[0] = "nodes: this account may not read them (below: what it can see)"
    elif not f.nodes:
        out.append("no nodes")
    if f.unseen:
        out.append(f"{len(f.unseen)} pods on nodes this account cannot read:")
        for ns, name, node in f.unseen[:max_pending]:
            out.append(f"  {ns}/{name} on {node}")
        if len(f.unseen) > max_pending:
            out.append(f"  … and {len(f.unseen) - max_pending} more")
    if f.pending:
        out.append("")
        out.append(f"{len(f.pending)} pending:")
        for ns, name, why in f.pending[:max_pending]:
            out.append(f"  {ns}/{name}: {why[:160]}")
        if len(f.pending) > max_pending:
            out.append(f"  … and {len(f.pending) - max_pending} more")
    out += _notes(f)
    return "\n".join(out)


def _notes(f: Frame) -> list[str]:
    """What this account may not see and prices the catalog lacks: one line each."""
    out = [""] if f.missing or f.unpriced else []
    out += f.missing
    if f.unpriced:
        out.append(f"no price: {', '.join(f.unpriced[:8])} not in the kit's catalog "
                   "(its prices are us-west-2 list prices)")
    return out


# ---------------------------------------------------------------- HTML (the notebook)


# Styles once per frame, classes per cell: 200 rows stay small over the widget's comm.
_STYLE = ("<style>.workshop-viewer td{text-align:left;padding:1px 6px;white-space:nowrap}"
          ".workshop-viewer th{text-align:left;padding:1px 6px;white-space:nowrap}"
          ".wv-bar{display:inline-block;width:48px;height:9px;background:rgba(128,128,128,.25);"
          "vertical-align:middle}.wv-bar b{display:block;height:100%;background:#5b9bd5}"
          ".wv-bar b.hot{background:#d9534f}</style>")


def _hbar(used: int, total: int) -> str:
    pct = _pct(used, total)
    hot = " class='hot'" if pct > 90 else ""
    return f"<span class='wv-bar'><b{hot} style='width:{min(pct, 100):.0f}%'></b></span> {pct:3.0f}%"


def _short(name: str, pool: str, width: int = 28) -> str:
    """Karpenter's kwok nodes are named kwok-<NodeClaim>-<random>-<number> (80 characters);
    the pool is in its own column, so show what follows it (the NodeClaim's suffix first)."""
    prefix = f"kwok-{pool}-"
    if pool and name.startswith(prefix):
        name = "…" + name[len(prefix):]
    return name if len(name) <= width else name[: width - 1] + "…"


def _cell(v: str) -> str:
    return f"<td>{v}</td>"


def to_html(f: Frame, max_pending: int = 20) -> str:
    e = html.escape
    head = (f"<b>{len(f.nodes)} nodes</b> · {f.pods} pods · <b>{e(_money(f.price))}</b> · "
            f"CPU {_hbar(f.used.cpu_millis, f.allocatable.cpu_millis)} · "
            f"memory {_hbar(f.used.memory_bytes, f.allocatable.memory_bytes)}")
    if f.error:
        head += f"<br><span style='color:#d9534f'>{e(f.error)} (retrying)</span>"
    pools = "".join(
        "<tr class='wv-pool'>" + _cell(e(p.name)) + _cell(str(p.weight)) + _cell(str(p.nodes))
        + _cell(e(_money(p.price)))
        + _cell(e(", ".join(f"{r} {u} of {v}" for r, (u, v) in p.limits.items()) or "no limits"))
        + "</tr>" for p in f.pools)
    pools_html = ("<table class='wv-pools'><tr><th>NodePool</th><th>weight</th><th>nodes</th>"
                  f"<th>price</th><th>in use / limits</th></tr>{pools}</table>") if pools else ""
    rows = []
    for n in f.nodes:
        state = "" if n.ready and not n.deleting else (" (deleting)" if n.deleting else " (NotReady)")
        gpu = _hbar(n.used.gpus, n.allocatable.gpus) if n.allocatable.gpus else "-"
        rows.append(f"<tr class='wv-node' data-node='{e(n.name)}' data-pool='{e(n.pool)}'>"
                    + f"<td title='{e(n.name)}'>{e(_short(n.name, n.pool))}{e(state)}</td>"
                    + _cell(e(n.pool or "-"))
                    + _cell(e(n.instance_type)) + _cell(e(n.zone)) + _cell(e(n.capacity_type))
                    + _cell(e(_money(n.price)))
                    + _cell(_hbar(n.used.cpu_millis, n.allocatable.cpu_millis))
                    + _cell(_hbar(n.used.memory_bytes, n.allocatable.memory_bytes))
                    + _cell(gpu)
                    + (f"<td title='and {n.daemon_pods} DaemonSet pods'>{n.pods} "
                       f"<small>+{n.daemon_pods} ds</small></td>" if n.daemon_pods else _cell(str(n.pods)))
                    + "</tr>")
    nodes_html = ("<table class='wv-nodes'><tr><th>node</th><th>NodePool</th><th>instance type</th>"
                  "<th>zone</th><th>capacity</th><th>price</th><th>CPU</th><th>memory</th>"
                  "<th>GPU</th><th>pods</th></tr>" + "".join(rows) + "</table>"
                  if rows else "<p class='wv-empty'><i>"
                  + ("nodes: this account may not read them" if f.nodes_hidden else "no nodes")
                  + "</i></p>")
    pend = ""
    if f.pending:
        items = "".join(f"<li><code>{e(ns)}/{e(name)}</code>: {e(why[:240])}</li>"
                        for ns, name, why in f.pending[:max_pending])
        more = f"<li>… and {len(f.pending) - max_pending} more</li>" if len(f.pending) > max_pending else ""
        pend = f"<b>{len(f.pending)} pending</b><ul class='wv-pending'>{items}{more}</ul>"
    if f.unseen:
        items = "".join(f"<li><code>{e(ns)}/{e(name)}</code> on {e(node)}</li>"
                        for ns, name, node in f.unseen[:max_pending])
        pend = (f"<b>{len(f.unseen)} pods on nodes this account cannot read</b>"
                f"<ul class='wv-unseen'>{items}</ul>") + pend
    notes = "".join(f"<div class='wv-note'>{e(line)}</div>" for line in _notes(f) if line)
    return (f"<div class='workshop-viewer'>{_STYLE}{head}{pools_html}{nodes_html}{pend}"
            f"{notes}</div>")


# ---------------------------------------------------------------- the live loop


class Live:
    """Watches plus a rate-limited render loop; `on_render(frame)` gets each new frame."""

    def __init__(self, on_render, pool: str | None = None, namespace: str | None = None,
                 renders_per_s: float = RENDERS_PER_S):
        self.pool, self.namespace = pool, namespace
        self.on_render = on_render
        self.interval = 1.0 / renders_per_s
        self.watch = ClusterWatch(_home_namespace(namespace))
        self.last_error: Exception | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="workshop-viewer")

    def start(self) -> "Live":
        self.watch.start()
        self._thread.start()
        return self

    def refresh(self) -> None:
        self.watch.changed.set()

    def close(self) -> None:
        self._closed.set()
        self.watch.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self.watch.changed.wait()
            if self._closed.is_set():
                return
            self.watch.changed.clear()
            try:
                self.on_render(frame(self.watch.snapshot(), self.pool, self.namespace))
            except Exception as exc:
                # A display gone away (a closed notebook) must not kill the loop, nor
                # print into whichever cell runs next; the error is kept for a look.
                self.last_error = exc
            self._closed.wait(self.interval)


class Viewer:
    """The notebook widget: filters on top, the frame below."""

    ALL = "(all)"

    def __init__(self, pool: str | None = None, namespace: str | None = None):
        import ipywidgets as w

        self.pool_box = w.Dropdown(description="NodePool", options=[self.ALL] + ([pool] if pool else []),
                                   value=pool or self.ALL, layout=w.Layout(width="320px"))
        self.ns_box = w.Dropdown(description="namespace",
                                 options=[self.ALL] + ([namespace] if namespace else []),
                                 value=namespace or self.ALL, layout=w.Layout(width="280px"))
        self.body = w.HTML("<i>connecting to the cluster …</i>")
        self.widget = w.VBox([w.HBox([self.pool_box, self.ns_box]), self.body])
        self.live = Live(self._show, pool, namespace)
        self.pool_box.observe(self._filter, names="value")
        self.ns_box.observe(self._filter, names="value")

    def _filter(self, _change) -> None:
        self.live.pool = None if self.pool_box.value == self.ALL else self.pool_box.value
        self.live.namespace = None if self.ns_box.value == self.ALL else self.ns_box.value
        self.live.refresh()

    @staticmethod
    def _options(box, names: list[str]) -> None:
        wanted = [Viewer.ALL] + names + ([box.value] if box.value not in names + [Viewer.ALL] else [])
        if list(box.options) != wanted:
            value = box.value
            box.options = wanted
            box.value = value

    def _show(self, f: Frame) -> None:
        self._options(self.pool_box, f.pool_names)
        self._options(self.ns_box, f.namespaces)
        self.body.value = to_html(f)

    def close(self) -> None:
        self.live.close()
        self.body.value = "<i>viewer stopped</i>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


_current: dict = {}


def _close_current() -> None:
    old = _current.pop("viewer", None)
    if old is not None:
        old.close()


def viewer(pool: str | None = None, namespace: str | None = None,
           context: str | None = None, kubeconfig: str | None = None) -> None:
    """Show the live node viewer (replaces one shown earlier: its watches stop).
    `context`/`kubeconfig`: another cluster running Karpenter v1, read only."""
    from workshop.k8s import kube

    with kube.target(kubeconfig, context):  # the watches' clients are made inside
        kube.require_cluster()
        _close_current()
        try:
            from IPython import get_ipython
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            print(text(snapshot_frame(pool, namespace)))
            return
        from IPython.display import display

        v = Viewer(pool, namespace)
        _current["viewer"] = v
        v.live.start()
    display(v.widget)


def _home_namespace(namespace: str | None) -> str:
    """Where to look when the account may read only one namespace: the filter's, else the
    kubeconfig context's, else `default` (kubectl's rule)."""
    from workshop.k8s import kube

    return namespace or kube.context_namespace() or "default"


def snapshot_frame(pool: str | None = None, namespace: str | None = None) -> Frame:
    """One frame from one list of each kind (no watches)."""
    return frame(ClusterWatch(_home_namespace(namespace)).list_once().snapshot(), pool, namespace)


def run_terminal(pool: str | None = None, namespace: str | None = None,
                 once: bool = False, context: str | None = None,
                 kubeconfig: str | None = None) -> int:
    """`workshop nodes`: redraw on every change (at most RENDERS_PER_S) until Ctrl-C.
    `context`/`kubeconfig`: another cluster, read only."""
    from workshop.k8s import kube

    with kube.target(kubeconfig, context):
        return _run_terminal(pool, namespace, once)


def _run_terminal(pool: str | None, namespace: str | None, once: bool) -> int:
    from workshop.k8s import kube

    kube.require_cluster()
    if once:
        print(text(snapshot_frame(pool, namespace)))
        return 0
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else "\n"

    def draw(f: Frame) -> None:
        sys.stdout.write(clear + time.strftime("%H:%M:%S") + "  workshop nodes (Ctrl-C stops)\n"
                         + text(f) + "\n")
        sys.stdout.flush()

    live = Live(draw, pool, namespace).start()
    try:
        while not live.closed:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        live.close()
    return 0


# Stop the watches before the interpreter tears down (a kernel restart, the end of a script).
atexit.register(_close_current)
