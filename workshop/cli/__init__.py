"""The `workshop` command: one verb per Make target, in an explicit table of verb groups.

Each verb calls one library function and prints what it did. Errors the kit knows about
print as two short lines (what happened, how to fix it) with exit code 2; a traceback only
ever appears with WORKSHOP_DEBUG=1. A group module imports its library only inside its verbs,
so `workshop up` never loads the notebook surface and a broken lesson never breaks `up`.
"""

from __future__ import annotations

import argparse
import os
import sys

from workshop.cli import bench, board, lessons, platform, stack, trial, views
from workshop.errors import WorkshopError

# The order here is the order of `workshop --help`.
GROUPS = (stack, lessons, views, platform, trial, board, bench)
VERBS = {name: fn for group in GROUPS for name, fn in group.VERBS.items()}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workshop", description="Karpenter workshop kit")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    board.connect()
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
