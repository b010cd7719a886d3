"""`workshop try FILE...`: a team's own manifests tried against the platform's pools on the
local mirror (workshop/platform/trial.py); the files are only read."""

from __future__ import annotations


def _try(args) -> int:
    from workshop.platform import trial

    report = trial.run(args.files, keep=args.keep, progress=lambda line: print(line, flush=True),
                       timeout_s=args.timeout)
    print()
    print(report.text())
    return 0


def add_parsers(sub) -> None:
    t = sub.add_parser("try", help="try your own manifests (files or a directory, e.g. `helm "
                       "template` output) against the platform's pools: pool, instance types, "
                       "cost, or why Pending and the fix")
    t.add_argument("files", nargs="+", help="manifest files or directories (only read)")
    t.add_argument("--keep", action="store_true",
                   help="leave the scratch namespace, its NodePools and nodes to look around")
    t.add_argument("--timeout", type=float, default=90.0,
                   help="seconds to wait for pods to be placed or stuck (default 90)")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {"try": _try}
