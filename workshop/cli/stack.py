"""CLI verbs for the local stack: build, up, down, status, clean-cluster, clean-cache, catalog."""

from __future__ import annotations

import json

from workshop.errors import WorkshopError


def _build(args) -> int:
    from workshop.stack import toolchain

    d = toolchain.ensure_built(force=args.force)
    print(f"binaries: {d}")
    return 0


def _up(args) -> int:
    from workshop.stack import lifecycle
    from workshop import paths

    lifecycle.require_repo_checkout()
    r = lifecycle.up()
    changed = [str(a) for a in r.applied if a.action != "unchanged"]
    print(f"\nThe workshop cluster is up ({r.seconds:.1f}s; control plane {r.control_plane}, "
          f"Karpenter {r.karpenter}).")
    if changed:
        print("  applied: " + ", ".join(changed))
    if r.orphans_removed:
        print("  removed nodes whose NodeClaim was gone: " + ", ".join(r.orphans_removed))
    print(f"  NodePools: {lifecycle.nodepool_note()}")
    print(f"  ports: {lifecycle.port_note()}")
    print("  use it from a terminal:")
    print(f"    export KUBECONFIG={paths.KUBECONFIG} PATH={paths.BIN_LINK}:$PATH")
    print("    kubectl get nodepools")
    return 0


def _down(args) -> int:
    from workshop.stack import lifecycle

    stopped = lifecycle.down()
    if stopped:
        print(f"Stopped {', '.join(stopped)}. The cluster's data is kept: `make up` brings it back.")
    else:
        print("Nothing was running.")
    return 0


def _status(args) -> int:
    from workshop.stack import lifecycle

    rows = lifecycle.status_rows()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows]))
    else:
        print(lifecycle.render_status(rows))
    return 0 if rows and all(r.status == "running" for r in rows) else 1


def _clean_cluster(args) -> int:
    from workshop.stack import lifecycle

    print("Deleted the workshop cluster." if lifecycle.clean_cluster() else "No cluster to delete.")
    return 0


def _clean_cache(args) -> int:
    from workshop.stack import lifecycle, toolchain

    lifecycle.down()
    toolchain.clean_cache()
    print("Removed the build cache; the next `make up` rebuilds (~10 minutes).")
    return 0


def _lock_binaries(args) -> int:
    """Build each platform's binaries (this machine's natively, the others cross-compiled)
    and record their sha256 in cluster/binaries.lock.toml."""
    import time

    from workshop.stack import binlock, lifecycle, toolchain

    lifecycle.require_repo_checkout()
    key = toolchain.cache_key(toolchain.Versions.load())
    host = binlock.host_platform()
    for plat in args.platform or binlock.PLATFORMS:
        if plat not in binlock.PLATFORMS:
            raise WorkshopError(f"`{plat}` is not a platform the kit supports",
                                fix="use one of " + ", ".join(binlock.PLATFORMS))
        started = time.monotonic()
        # This machine's own cache is checked against the lock: record it unchecked.
        folder = toolchain.build_platform(plat) if plat != host else \
            toolchain.ensure_built(verify_lock=False)
        files = binlock.record(key, plat, folder)
        print(f"{plat}: {len(files)} files from {folder} "
              f"({time.monotonic() - started:.0f}s) -> {binlock.LOCK_FILE}")
    return 0


def _catalog(args) -> int:
    from workshop.instances import table as catalog_table

    return catalog_table.main(["--check"] if args.check else [])


def add_parsers(sub) -> None:
    b = sub.add_parser("build", help="build the cluster's binaries (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("up", help="build if needed, start or heal the cluster")
    sub.add_parser("down", help="stop every process; keep the cluster's data")
    s = sub.add_parser("status", help="each component: running/stopped, pid, port, uptime")
    s.add_argument("--json", action="store_true")
    sub.add_parser("clean-cluster", help="delete the cluster (stops it first)")
    sub.add_parser("clean-cache", help="delete built binaries and Go caches")
    lk = sub.add_parser("lock-binaries", help="build every platform's binaries and record their "
                        "sha256 in cluster/binaries.lock.toml (cross builds: run it under nice)")
    lk.add_argument("--platform", action="append",
                    help="only this GOOS/GOARCH (repeatable); default: all four")
    c = sub.add_parser("catalog", help="regenerate cluster/catalog/instance-types.json")
    c.add_argument("--check", action="store_true", help="only check it is up to date")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "build": _build,
    "up": _up,
    "down": _down,
    "status": _status,
    "clean-cluster": _clean_cluster,
    "clean-cache": _clean_cache,
    "lock-binaries": _lock_binaries,
    "catalog": _catalog,
}
