"""`wait_for.*`: waits that show progress while Karpenter works."""

from __future__ import annotations

import html
import time

from workshop.errors import WorkshopError
from workshop.k8s import kube, observe
from workshop.lab.display import display_html, error_box, friendly, html_obj, live_handle
from workshop.lab.session import default_namespace, solution_mode


class WaitFor:
    """Waits that show progress while Karpenter works."""

    @friendly
    def pods(self, count: int, app: str | None = None, namespace: str | None = None,
             timeout_s: float = 90) -> None:
        ns = namespace or default_namespace(None)
        sel = f"app={app}" if app else None
        what = f"pods with app={app}" if app else "pods"
        handle = live_handle()
        seen = {"ready": 0, "pending": 0, "total": 0}

        def enough() -> bool:
            pods = [p for p in observe.pods(ns, sel)
                    if not (p.get("metadata") or {}).get("deletionTimestamp")]
            seen.update(ready=sum(observe.is_ready(p) for p in pods),
                        pending=sum(observe.is_pending(p) for p in pods), total=len(pods))
            return seen["ready"] >= count

        def tick(elapsed: float) -> None:
            if handle:
                handle.update(html_obj(f"… {seen['ready']}/{count} {html.escape(what)} Ready, "
                                       f"{seen['pending']} Pending ({elapsed:.0f}s)"))
            # Waiting cannot help when fewer pods exist than asked for and none is coming.
            if elapsed >= 10 and seen["total"] < count and not seen["pending"]:
                raise WorkshopError(
                    f"only {seen['total']} {what} exist in {ns}, {count} expected",
                    fix="check `replicas` (and the namespace) and run the %%apply cell again")

        try:
            start = time.monotonic()
            kube.wait_until(enough, timeout_s, 0.25, f"{count} Ready {what} in {ns}", tick)
            msg = f"✓ {count} {what} Ready after {time.monotonic() - start:.1f}s"
            handle.update(html_obj(html.escape(msg))) if handle else print(msg)
        except WorkshopError as exc:
            error_box(WorkshopError(exc.message, detail=exc.detail,
                                    fix=exc.fix or "show.pods() says why pods are pending"))
        except KeyboardInterrupt:
            display_html("<i>stopped waiting</i>")
            if solution_mode():
                raise

    @friendly
    def no_nodes(self, pool: str | None = None, timeout_s: float = 120) -> None:
        sel = f"{observe.NODEPOOL_LABEL}={pool}" if pool else f"{observe.NODEPOOL_LABEL}"
        handle = live_handle()
        start = time.monotonic()

        def tick(elapsed: float) -> None:
            if handle:
                handle.update(html_obj(f"… {len(observe.nodes(sel))} nodes left ({elapsed:.0f}s)"))

        try:
            kube.wait_until(lambda: not observe.nodes(sel), timeout_s, 1, "the nodes to go", tick)
            msg = f"✓ no nodes left after {time.monotonic() - start:.1f}s"
            handle.update(html_obj(msg)) if handle else print(msg)
        except WorkshopError as exc:
            error_box(WorkshopError(exc.message, detail=exc.detail, fix=exc.fix or
                                    "show.pods() lists pods that still hold a node; "
                                    "show.events() says what Karpenter is doing"))
        except KeyboardInterrupt:
            display_html("<i>stopped waiting</i>")
            if solution_mode():
                raise


    @friendly
    def node(self, pool: str, timeout_s: float = 90) -> str | None:
        """Wait until NodePool `pool` has a node Karpenter has registered; return its name.

        Registered, not merely created: Karpenter puts a pool's startup taints on a node when
        it registers it (until then the node carries only karpenter.sh/unregistered), so an
        agent acting earlier would find nothing to remove."""
        from workshop.k8s import node_agent

        found = kube.wait_until(
            lambda: sorted(n["metadata"]["name"] for n in node_agent.pool_nodes(pool)[0]),
            timeout_s, 0.5, f"a registered node of NodePool {pool}")
        display_html(f"node of {html.escape(pool)}: <code>{html.escape(found[0])}</code>")
        return found[0]
