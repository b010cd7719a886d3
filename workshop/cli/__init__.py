"""The `workshop` command: one verb per Make target.

Each verb calls one library function and prints what it did. Errors the kit knows about
print as two short lines (what happened, how to fix it) with exit code 2; a traceback only
ever appears with WORKSHOP_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable

from workshop.errors import WorkshopError

VERBS: dict[str, Callable[[argparse.Namespace], int]] = {}


def verb(name: str):
    def register(fn):
        VERBS[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- cluster verbs


@verb("build")
def _build(args) -> int:
    from workshop.stack import toolchain

    d = toolchain.ensure_built(force=args.force)
    print(f"binaries: {d}")
    return 0


@verb("up")
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


@verb("down")
def _down(args) -> int:
    from workshop.stack import lifecycle

    stopped = lifecycle.down()
    if stopped:
        print(f"Stopped {', '.join(stopped)}. The cluster's data is kept: `make up` brings it back.")
    else:
        print("Nothing was running.")
    return 0


@verb("status")
def _status(args) -> int:
    from workshop.stack import lifecycle

    rows = lifecycle.status_rows()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows]))
    else:
        print(lifecycle.render_status(rows))
    return 0 if rows and all(r.status == "running" for r in rows) else 1


@verb("clean-cluster")
def _clean_cluster(args) -> int:
    from workshop.stack import lifecycle

    print("Deleted the workshop cluster." if lifecycle.clean_cluster() else "No cluster to delete.")
    return 0


@verb("clean-cache")
def _clean_cache(args) -> int:
    from workshop.stack import lifecycle, toolchain

    lifecycle.down()
    toolchain.clean_cache()
    print("Removed the build cache; the next `make up` rebuilds (~10 minutes).")
    return 0


@verb("catalog")
def _catalog(args) -> int:
    from workshop.instances import table as catalog_table

    return catalog_table.main(["--check"] if args.check else [])


# ---------------------------------------------------------------- entry point


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workshop", description="Karpenter workshop kit")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    b = sub.add_parser("build", help="build the cluster's binaries (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("up", help="build if needed, start or heal the cluster")
    sub.add_parser("down", help="stop every process; keep the cluster's data")
    s = sub.add_parser("status", help="each component: running/stopped, pid, port, uptime")
    s.add_argument("--json", action="store_true")
    sub.add_parser("clean-cluster", help="delete the cluster (stops it first)")
    sub.add_parser("clean-cache", help="delete built binaries and Go caches")
    c = sub.add_parser("catalog", help="regenerate cluster/catalog/instance-types.json")
    c.add_argument("--check", action="store_true", help="only check it is up to date")
    for extra in EXTRA_PARSERS:
        extra(sub)
    return p


# Lesson verbs (check, reset, solve, lab, bench) register their parsers here.
EXTRA_PARSERS: list[Callable] = []


def main(argv: list[str] | None = None) -> int:
    _load_extra_verbs()
    args = _parser().parse_args(argv)
    try:
        return VERBS[args.verb](args)
    except WorkshopError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: never a bare traceback
        if os.environ.get("WORKSHOP_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc}\n"
              "  fix: this is a bug in the kit; rerun with WORKSHOP_DEBUG=1 and report the "
              "traceback", file=sys.stderr)
        return 2


def _load_extra_verbs() -> None:
    # Imported for their side effect of registering verbs; kept apart so the cluster
    # verbs work even if a lesson module is broken.
    for mod in ("workshop.cli.lessons", "workshop.cli.platform", "workshop.cli.views",
                "workshop.bench.run", "workshop.cli.board"):
        try:
            __import__(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


if __name__ == "__main__":
    # Run through the package's module, not this `__main__` copy: lesson verbs register
    # themselves into `workshop.cli`.
    from workshop.cli import main as package_main

    sys.exit(package_main())
