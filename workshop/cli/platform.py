"""CLI verbs for the platform's side: `workshop request` (the NodePool generator) and
`workshop eks` (manifests rewritten for EKS)."""

from __future__ import annotations

import sys

from typing import TYPE_CHECKING

from workshop.errors import WorkshopError

if TYPE_CHECKING:
    from workshop.platform import request as pr

# The generator and the catalog load inside the verbs: every `workshop` command imports
# this module to register its parsers, and `make check-lesson-N` should not pay for them.


def _request_from(args) -> pr.Request:
    from workshop.platform import request as pr

    return pr.Request(
        team=args.team, vcpu=args.vcpu, memory_gi=args.memory_gi, gpus=args.gpus,
        families=tuple(f for item in args.families for f in pr.split_items(item)),
        taints=tuple(args.taint), labels=tuple(args.label),
        capacity_types=tuple(c for item in args.capacity_type for c in pr.split_items(item)),
    )


def _request(args) -> int:
    from workshop.instances import catalog
    from workshop.platform import request as pr

    req = _request_from(args)
    cat = catalog.load_catalog()
    problems = pr.validate(req, cat)
    for w in problems.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not problems.ok:
        n = len(problems.errors)
        raise WorkshopError(f"the request has {n} problem{'s' if n > 1 else ''}",
                            detail="\n".join(f"- {e}" for e in problems.errors),
                            fix="correct the request and run it again")
    if args.text:
        print(pr.request_text(req, cat))
        return 0
    if args.apply:
        for applied in pr.submit(req, cat):
            print(applied)
        return 0
    print(pr.to_yaml(pr.nodepool(req)), end="")
    return 0


def _eks(args) -> int:
    from workshop.platform import eks

    converted = eks.convert_files(args.files)
    for w in converted.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.output:
        path = eks.write(converted, args.output, args.files)
        print(f"wrote {path} ({len(converted.objects)} objects, "
              f"{len(converted.warnings)} warnings)", file=sys.stderr)
    else:
        print(converted.yaml(), end="")
    return 0


def add_parsers(sub) -> None:
    r = sub.add_parser("request", help="the platform's NodePool generator: a team's request "
                       "in, the NodePool out")
    r.add_argument("--team", required=True, help="the team's name (a DNS label)")
    r.add_argument("--vcpu", type=int, required=True, help="vCPU limit")
    r.add_argument("--memory-gi", type=int, required=True, help="memory limit in Gi")
    r.add_argument("--gpus", type=int, default=0, help="GPU limit (nvidia.com/gpu)")
    r.add_argument("--families", action="append", default=[], required=True,
                   help="instance families, comma separated (e.g. g5 or m6g,c6g)")
    r.add_argument("--capacity-type", action="append", default=[],
                   help="on-demand and/or spot (default: both; GPU pools on-demand)")
    r.add_argument("--taint", action="append", default=[], help="extra taint key=value:Effect")
    r.add_argument("--label", action="append", default=[], help="extra node label key=value")
    what = r.add_mutually_exclusive_group()
    what.add_argument("--text", action="store_true",
                      help="print the request as the text a team sends")
    what.add_argument("--apply", action="store_true",
                      help="apply the NodePool to the cluster (as the platform team would)")
    e = sub.add_parser("eks", help="rewrite manifests for EKS (nodeClassRef) and warn about "
                       "what only kwok has")
    e.add_argument("files", nargs="+", help="YAML files (never modified)")
    e.add_argument("-o", "--output", help="write here instead of printing")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "request": _request,
    "eks": _eks,
}
