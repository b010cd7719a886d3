"""`show.*`: small tables of what the cluster did (nodes, pods, pools, claims, events,
offerings, usage, processes). They only display: every query is in workshop.k8s."""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime, timedelta, timezone

from workshop.errors import WorkshopError
from workshop.k8s import daemonsets, events, kube, observe, timestamps
from workshop.lab.display import display_html, error_box, friendly, table
from workshop.lab.session import SESSION, default_namespace
from workshop.names import KARPENTER_API


class Show:
    """Small tables of what the cluster did."""

    @friendly
    def nodes(self, pool: str | None = None) -> None:
        sel = f"{observe.NODEPOOL_LABEL}={pool}" if pool else None
        infos = sorted(observe.node_infos(sel).values(), key=lambda i: (i.nodepool, i.name))
        if not infos:
            display_html("<i>no nodes yet</i>" + (f" in NodePool {html.escape(pool)}" if pool else ""))
            return
        rows = [[i.name[:40], i.instance_type, i.zone, i.capacity_type, i.arch, i.nodepool,
                 f"${i.price:.4f}/h" if i.price is not None else "-", i.cpu, i.memory,
                 i.gpus or "-", ", ".join(i.taints) or "-"] for i in infos]
        display_html(table(["node", "instance type", "zone", "capacity", "arch", "pool",
                            "price", "cpu", "memory", "gpus", "taints"], rows))

    @friendly
    def pods(self, namespace: str | None = None, app: str | None = None) -> None:
        ns = namespace or default_namespace(None)
        rows = []
        for pod, info in observe.placement(ns, f"app={app}" if app else None):
            phase = "Ready" if observe.is_ready(pod) else pod["status"].get("phase", "?")
            why = observe.pending_reason(pod) if observe.is_pending(pod) else ""
            rows.append([pod["metadata"]["name"], phase,
                         info.instance_type if info else "-", info.nodepool if info else "-",
                         (why or "")[:160]])
        if not rows:
            display_html(f"<i>no pods in {html.escape(ns)}</i>")
            return
        display_html(table(["pod", "status", "instance type", "pool", "why pending"], rows))

    @friendly
    def spread(self, app: str | None = None, namespace: str | None = None) -> None:
        """Pods per zone, with the nodes they run on (every zone listed, empty ones too)."""
        from workshop.instances.catalog import ZONES

        ns = namespace or default_namespace(None)
        rows = [[d.name, d.pods - d.pending, d.pending or "-", len(d.nodes),
                 ", ".join(n[:40] for n in d.nodes) or "-"]
                for d in observe.spread(ns, f"app={app}" if app else None, domains=ZONES)]
        display_html(table(["zone", "pods Ready", "not Ready", "nodes", "node names"], rows))

    @friendly
    def nodepools(self) -> None:
        rows = []
        for np in kube.list_(KARPENTER_API, "NodePool"):
            ready = kube.condition(np, "Ready") or {}
            limits = (np.get("spec") or {}).get("limits") or {}
            used = (np.get("status") or {}).get("resources") or {}
            rows.append([np["metadata"]["name"], events.pool_readiness(np, ready),
                         ", ".join(f"{k}={v}" for k, v in limits.items()) or "-",
                         ", ".join(f"{k}={v}" for k, v in used.items() if k in ("cpu", "memory", "nvidia.com/gpu")) or "-"])
        display_html(table(["NodePool", "Ready", "limits", "in use"], rows))


    @friendly
    def usage(self, pool: str) -> None:
        """A NodePool's usage against its limits (CPU, memory, GPUs): what Karpenter counts
        (`status.resources`: on EKS the instances' full capacity) and the nodes behind it."""
        usage = observe.pool_usage(pool)
        if usage is None:
            events.pool_requirements(pool)  # raises "there is no NodePool ..." with the list
            return
        nodes = ", ".join(f"{n} × {t}" for t, n in sorted(usage.instance_types.items()))
        weight = "no weight (0)" if usage.weight is None else f"weight {usage.weight}"
        display_html(f"NodePool <code>{html.escape(pool)}</code>, {html.escape(weight)}: "
                     f"{html.escape(nodes or 'no nodes')}"
                     + table(["resource", "in use", "limit", "left"],
                             usage.rows()))

    @friendly
    def gpu_offerings(self, pool: str | None = None, top: int = 8) -> None:
        """NVIDIA GPU instance types (of a NodePool, or the whole catalog), cheapest per GPU
        first, on-demand, and what the pool costs an hour at its GPU limit."""
        from workshop.instances import catalog as catalog_mod
        from workshop.instances import gpu_cost

        reqs = events.pool_requirements(pool) if pool else []
        offers = gpu_cost.gpu_offers(catalog_mod.load_catalog(), reqs)
        rows = [[o.instance_type, o.gpu_name, o.gpus, f"{o.gpu_memory_mib} MiB", o.vcpu,
                 f"${o.price:.3f}/h", f"${o.per_gpu:.3f}/h"] for o in offers[:top]]
        text = (f"NodePool <code>{html.escape(pool)}</code> admits" if pool
                else "The catalog has") + f" {len(offers)} NVIDIA GPU instance types."
        limit = ((kube.get(KARPENTER_API, "NodePool", pool) or {}).get("spec", {})
                 .get("limits", {}).get(observe.GPU_RESOURCE)) if pool else None
        if limit is not None and offers:
            n = int(str(limit))
            least, _ = gpu_cost.cost_at_limit(offers, n)
            most, mix = gpu_cost.cost_at_limit(offers, n, most=True)
            shown = ", ".join(f"{k} × {t}" for t, k in Counter(mix).most_common())
            text += (f" At its limit of {n} GPUs it costs ${least:.2f}/h at the least, and up "
                     f"to ${most:.2f}/h ({html.escape(shown)}).")
        display_html(text + table(["instance type", "GPU", "GPUs", "memory per GPU", "vCPU",
                                   "on-demand", "per GPU"], rows))

    @friendly
    def nodeclaims(self, pool: str | None = None) -> None:
        """Karpenter's NodeClaims: what it launched, for which pool, and how far it got."""
        from workshop.k8s import disruption

        rows = []
        pools = {p["metadata"]["name"]: p for p in kube.list_(KARPENTER_API, "NodePool")}
        for nc in sorted(observe.nodeclaims(pool), key=lambda c: c["metadata"]["name"]):
            labels = nc["metadata"].get("labels") or {}
            status = nc.get("status") or {}
            owner = labels.get(observe.NODEPOOL_LABEL, "-")
            rows.append([nc["metadata"]["name"], owner,
                         labels.get("node.kubernetes.io/instance-type", "-"),
                         labels.get(observe.CAPACITY_LABEL, "-"),
                         labels.get("topology.kubernetes.io/zone", "-"),
                         events.claim_state(nc), disruption.state(nc, pools.get(owner)),
                         (status.get("nodeName") or "-")[:40],
                         timestamps.age_text(nc["metadata"].get("creationTimestamp"))])
        if not rows:
            display_html("<i>no NodeClaims</i>" + (f" for NodePool {html.escape(pool)}" if pool else ""))
            return
        display_html(table(["NodeClaim", "pool", "instance type", "capacity", "zone",
                            "state", "disruption", "node", "age"], rows))

    @friendly
    def events(self, minutes: float | None = None, namespace: str | None = None) -> None:
        """The story so far, oldest first: the lesson's pods and Deployments, and Karpenter's
        NodeClaims, Nodes and NodePools. By default it starts at your last %%apply (or 5
        minutes ago); `minutes=10` looks further back. Repeats of the same event (e.g. five
        pods Nominated) are folded into one row."""
        ns = namespace or default_namespace(None)
        now = datetime.now(timezone.utc)
        if minutes is None and SESSION["applied_at"] is not None:
            # Events carry whole seconds: start a little before the apply.
            since, start = SESSION["applied_at"] - timedelta(seconds=2), "your last %%apply"
        else:
            minutes = 5 if minutes is None else minutes
            since, start = now - timedelta(minutes=minutes), f"the last {minutes:g} minutes"
        evs = [e for e in events.namespace_events(ns) if e[0] >= since]
        if ns != "default":
            evs += [e for e in events.namespace_events("default") if e[0] >= since
                    and e[1].get("involvedObject", {}).get("kind") in ("NodeClaim", "Node", "NodePool")
                    and not events.healthy_pool_event(e[1])]
        evs.sort(key=lambda e: e[0])
        groups: list[list] = []  # [time, who, kind, names, reason, message, count]
        for when, ev in evs:
            obj = ev.get("involvedObject") or {}
            who = ((ev.get("source") or {}).get("component") or ev.get("reportingComponent")
                   or "")
            key = (who, obj.get("kind", ""), ev.get("reason", ""))
            count = ev.get("count") or ((ev.get("series") or {}).get("count")) or 1
            if groups and (groups[-1][1], groups[-1][2], groups[-1][4]) == key:
                groups[-1][3].add(obj.get("name", ""))
                groups[-1][6] += count
                continue
            groups.append([when, who, obj.get("kind", ""), {obj.get("name", "")},
                           ev.get("reason", ""), events.short_event(ev.get("message") or ""), count])
        if not groups:
            display_html(f"<i>no events in {html.escape(ns)} or from Karpenter since "
                         f"{html.escape(start)}</i>; <code>show.events(minutes=10)</code> "
                         "looks further back")
            return
        rows = []
        for when, who, kind, names, reason, message, count in groups:
            names.discard("")
            if len(names) > 1:
                what = f"{len(names)} {kind}s"
            else:
                what = f"{kind} {next(iter(names), '')}".strip()[:60]
            times = f" (×{count})" if count > 1 else ""
            rows.append([when.astimezone().strftime("%H:%M:%S"), who, what, reason + times,
                         message[:200]])
        display_html(f"<small>Events since {html.escape(start)}, oldest first:</small>"
                     + table(["time", "from", "object", "reason", "message (first)"], rows))

    @friendly
    def offerings(self, pool: str | None = None, cpu: str | None = None,
                  memory: str | None = None, top: int = 8) -> None:
        """The catalog through a NodePool's requirements, cheapest first.

        With cpu/memory (the pods' total requests, e.g. cpu="5", memory="5Gi") it marks
        which instance types can hold them and the offering Karpenter would pick: the
        cheapest one that fits (allocatable = capacity minus 100m CPU and 10Mi kept for
        the kubelet), with room left for the DaemonSets' pods, as Karpenter leaves it."""
        from workshop.instances import catalog as catalog_mod

        try:
            reqs = events.pool_requirements(pool) if pool else []
            cat = catalog_mod.load_catalog()
            cpu_m = memory_mi = None
            if cpu is not None or memory is not None:
                cpu_m = int(catalog_mod.parse_quantity(str(cpu or "0")) * 1000)
                memory_mi = int(catalog_mod.parse_quantity(str(memory or "0")) / 2**20)
        except ValueError as exc:
            error_box(WorkshopError(str(exc), fix='write quantities as Kubernetes does, e.g. cpu="500m", memory="512Mi"'))
            return
        except WorkshopError as exc:
            error_box(exc)
            return
        admitted = cat.admitted(reqs)
        # One row per instance type and capacity type, in its cheapest zone.
        best: dict = {}
        for o in sorted(admitted, key=lambda o: (o.price, o.instance_type, o.zone)):
            best.setdefault((o.instance_type, o.capacity_type), o)
        offers = sorted(best.values(), key=lambda o: (o.price, o.instance_type, o.capacity_type))
        # Every node runs the DaemonSets' pods too: Karpenter sizes it for them.
        pool_obj = ((kube.get("karpenter.sh/v1", "NodePool", pool) if pool else None)
                    or daemonsets.pool_of_requirements(reqs))
        daemon_sets = daemonsets.in_cluster() if cpu_m is not None else []
        room = daemonsets.per_offering(pool_obj, daemon_sets)
        pick = (cat.cheapest(reqs, cpu_m, memory_mi, overhead=room) if cpu_m is not None else None)
        shown = offers[:top]
        if pick is not None and not any(o.instance_type == pick.instance_type
                                        and o.capacity_type == pick.capacity_type for o in shown):
            shown.append(None)  # a gap, then Karpenter's pick further down the list
            shown.append(best[(pick.instance_type, pick.capacity_type)])
        rows = []
        for o in shown:
            if o is None:
                rows.append(["…"] + [""] * (7 + (cpu_m is not None)))
                continue
            it = cat.by_name(o.instance_type)
            row = [o.instance_type, o.capacity_type, o.zone, it.arch, it.vcpu,
                   f"{it.memory_mib / 1024:g}Gi",
                   f"{it.allocatable_cpu_millis}m / {it.allocatable_memory_mib}Mi",
                   f"${o.price:.4f}/h"]
            if cpu_m is not None:
                extra_cpu, extra_mem, _ = room(o)
                fits = it.fits(cpu_m + extra_cpu, memory_mi + extra_mem)
                mark = "✓" if fits else "✗ too small"
                if pick is not None and (o.instance_type, o.capacity_type, o.zone) == \
                        (pick.instance_type, pick.capacity_type, pick.zone):
                    mark = "✓ ← cheapest that fits"
                row.append(mark)
            rows.append(row)
        headers = ["instance type", "capacity", "cheapest zone", "arch", "vCPU", "memory",
                   "allocatable", "price"]
        if cpu_m is not None:
            headers.append(f"holds {cpu} CPU, {memory}?")
        where = f"NodePool <code>{html.escape(pool)}</code> admits" if pool else "The catalog has"
        head = f"{where} {html.escape(catalog_mod.describe_set(admitted))}."
        if not admitted:
            head += (" <b>Its requirements match nothing in the catalog</b>: check each "
                     "value's spelling (values are exact and case-sensitive).")
        elif cpu_m is not None and pick is None:
            head += f" <b>None of them can hold {html.escape(str(cpu))} CPU and {html.escape(str(memory))}.</b>"
        besides = daemonsets.overhead(pool_obj, daemon_sets)
        if cpu_m is not None and besides.pods:
            head += (" A ✓ leaves room for what the DaemonSets' pods on every node request "
                     f"({html.escape(str(besides.requests))}, {besides.pods} pods), as Karpenter does.")
        display_html(head + ("<br>" + table(headers, rows) if rows else ""))

    @friendly
    def status(self) -> None:
        """The local processes standing in for EKS: control plane, kwok and Karpenter."""
        from workshop.stack import lifecycle

        rows = [[r.name, r.status, r.pid or "-", r.port or "-",
                 lifecycle.fmt_uptime(r.uptime_s), f"{r.rss_mib:.0f} MiB" if r.rss_mib else "-"]
                for r in lifecycle.status_rows()]
        if not rows:
            display_html("<i>no workshop cluster yet: run <code>make up</code> in a terminal</i>")
            return
        note = ("" if all(r[1] == "running" for r in rows)
                else "<br><b>Something is stopped:</b> run <code>make up</code> in a terminal (it heals the cluster).")
        display_html(table(["component", "status", "pid", "port", "uptime", "memory"], rows) + note)
