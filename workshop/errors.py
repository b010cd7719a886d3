"""The one error type the kit shows to people.

Anything a learner or instructor can cause (a missing build, a port taken, a cluster not
running, broken YAML) is raised as a WorkshopError carrying a short message and the fix.
The CLI and the notebook print those two lines and never a traceback.
"""

from __future__ import annotations


class WorkshopError(Exception):
    """A problem with a known fix. `str()` is the message; `fix` says what to do."""

    def __init__(self, message: str, fix: str = "", detail: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix
        # Extra lines worth showing (a log tail, the API's reason); kept apart so the
        # first line stays short.
        self.detail = detail

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        if self.detail:
            lines += ["  " + line for line in self.detail.rstrip().splitlines()]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class ClusterNotRunning(WorkshopError):
    """The API server does not answer: everything that needs the cluster says `make up`."""

    def __init__(self, detail: str = "", down: str = ""):
        # `down` names the part that is down (e.g. "etcd is down ..."): it goes in the
        # message, which is what a check report shows.
        super().__init__(
            "the workshop cluster is not running" + (f": {down}" if down else ""),
            fix="run `make up` (or `make status` to see which part is down)",
            detail=detail,
        )
