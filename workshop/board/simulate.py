"""A simulated room: N learners joining a board over HTTP and posting grading reports.

Used by the load test, `make bench` and the screenshot in docs/. Reports have the real
grading.to_json shape; each learner works through the exercises in order, some get stuck
(their failing check is backdated past the stuck threshold).
"""

from __future__ import annotations

import functools
import http.client
import json
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from workshop.grading import core as g

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia",
         "Dennis", "Frances", "John", "Katherine", "Niklaus", "Sophie", "Tim", "Hedy", "Guido"]
LAST = ["L.", "T.", "H.", "D.", "K.", "R.", "O'Neil", "Nguyen", "García", "Müller", "Okafor",
        "Kowalski", "Tanaka", "Silva", "Brown", "Andersen"]
CLIENTS_AT_ONCE = 24  # laptops posting at the same instant in the load test

HINTS = {
    "pass": "",
    "fail": "the pods ask for more than any instance type offers: check the requests",
    "waiting": "Karpenter is still launching a node; run the check again in a few seconds",
}


def make_report(exercises: list[str], reached: int, last_status: str, seed: int) -> dict:
    """Every exercise before `reached` passes, `reached` has `last_status`. The checks are
    the kit's own (the board refuses made-up ids)."""
    rng = random.Random(seed)
    checks_of = _kit_checks()
    lesson = int(exercises[reached].split(".")[0])
    out = []
    for ex_id in exercises[: reached + 1]:
        if int(ex_id.split(".")[0]) != lesson:
            continue
        status = "pass" if ex_id != exercises[reached] else last_status
        ids = checks_of[ex_id]
        failing = rng.randrange(len(ids)) if status != "pass" else len(ids)
        checks = [g.Result(id=cid, title=cid.rsplit(".", 1)[-1],
                           status=g.Status.PASS if i < failing else g.Status(status),
                           points=1 if i < failing else 0, max_points=1,
                           expected="5 pods Running" if i == failing else "as asked",
                           found="2 Running, 3 Pending" if i == failing else "as asked",
                           hint=HINTS[status] if i == failing else "",
                           object=f"Deployment lesson-{lesson:02d}/inflate")
                  for i, cid in enumerate(ids[: failing + 1])]
        out.append(g.ExerciseReport(ex_id, f"exercise {ex_id}", checks))
    return g.to_json(g.Report(lesson, out))


@functools.cache
def _kit_checks() -> dict[str, tuple[str, ...]]:
    from workshop.board.schema import Kit

    return Kit.from_lessons().checks


class Client:
    """One keep-alive HTTP connection (a learner's laptop)."""

    def __init__(self, base: str, code: str):
        u = urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.headers = {"Content-Type": "application/json", "X-Room-Code": code}

    def post(self, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
        headers = dict(self.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, json.dumps(body), headers)
                resp = self.conn.getresponse()
                return resp.status, json.loads(resp.read() or b"{}")
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closes an idle keep-alive connection after a few seconds:
                # open a new one (once).
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def learner(base: str, code: str, index: int, exercises: list[str], reports: int,
            stuck_minutes: float = 0) -> tuple[list[int], list[float]]:
    """Join, then post `reports` reports; return (statuses, post latencies in s)."""
    rng = random.Random(index)
    c = Client(base, code)
    try:
        status, answer = c.post("/api/join", {"name": f"{rng.choice(FIRST)} "
                                              f"{rng.choice(LAST)} {index:03d}"})
        if status != 201:
            return [status], []
        token, statuses, latencies = answer["token"], [], []
        goal = rng.randint(0, len(exercises) - 1)
        stuck = stuck_minutes and rng.random() < 0.15
        now = time.time() - rng.choice([0, 0, 1, 3, 8, 20]) * 60  # some went quiet
        for i in range(reports):
            reached = min(goal, i * len(exercises) // max(reports, 1))
            last = "pass" if reached < goal else ("fail" if stuck else rng.choice(
                ["pass", "fail", "waiting"]))
            # Spread the reports over the last hour; a stuck learner's failures span
            # more than the threshold.
            at = now - (reports - i) * (stuck_minutes * 60 * 1.5 / reports if stuck else 20)
            t0 = time.perf_counter()
            status, _ = c.post("/api/reports", {"graded_at": at, "report": make_report(
                exercises, reached, last, index * 1000 + i)}, token)
            latencies.append(time.perf_counter() - t0)
            statuses.append(status)
        return statuses, latencies
    finally:
        c.close()


def room(base: str, code: str, exercises: list[str], learners: int = 200, reports: int = 20,
         threads: int = CLIENTS_AT_ONCE, stuck_minutes: float = 0) -> dict:
    """Simulate the room; return counts and post latency percentiles (ms)."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda i: learner(base, code, i, exercises, reports,
                                                  stuck_minutes), range(learners)))
    statuses = [s for r in results for s in r[0]]
    latencies = sorted(x for r in results for x in r[1])
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {"posted": sum(s == 201 for s in statuses), "refused": sum(s != 201 for s in statuses),
            "seconds": round(time.monotonic() - t0, 2),
            "per_s": round(len(statuses) / max(time.monotonic() - t0, 1e-6)),
            "post_p50_ms": round(q[49] * 1000, 1), "post_p99_ms": round(q[98] * 1000, 1)}


def wait_learners(page, learners: int, timeout_s: float = 20) -> None:
    """Wait until the page has drawn `learners` rows. Polled with page.evaluate (run by the
    browser's debugger protocol) rather than wait_for_function, whose string predicates the
    page's Content-Security-Policy (no 'unsafe-eval') rightly refuses to compile."""
    import time

    deadline = time.monotonic() + timeout_s
    while page.evaluate("document.body.dataset.learners") != str(learners):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the board did not draw {learners} learners in {timeout_s:.0f}s")
        time.sleep(0.01)


def render_ms(page_url: str, key: str, learners: int, loads: int = 3,
              timeout_s: float = 20, page=None) -> list[float]:
    """Open the instructor page in headless Chromium `loads` times; for each, the ms from
    navigation to the grid drawn with every learner (the data's fetch included). A first
    load warms the browser up and is not counted: the instructor's browser is running.
    Raises RuntimeError when no browser can run here. `page`: an open Playwright page to
    use instead of starting a browser."""
    import contextlib

    from workshop.board import browser

    times = []
    with (contextlib.nullcontext(page) if page else browser.page()) as page:
        for i in range(loads + 1):
            # A new query each time: a change of the #fragment alone would not reload.
            page.goto(f"{page_url}/?load={i}#key={key}")
            wait_learners(page, learners, timeout_s)
            times.append(float(page.evaluate("window.boardFirstRenderAt")))
    return times[1:]


def bench(learners: int = 200, reports: int = 20) -> dict:
    """`make bench`'s board numbers: a real `workshop board` process on loopback (so the
    simulated laptops do not share its interpreter), a simulated room."""
    import os
    import sqlite3
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from workshop.stack import procs
    from workshop.board.serve import kit_exercises

    exercises = kit_exercises() or ["1.1", "1.2", "1.3"]
    with tempfile.TemporaryDirectory(prefix="board-bench-") as tmp:
        port = procs.free_port()
        proc = subprocess.Popen([sys.executable, "-m", "workshop.cli", "board", "--port",
                                 str(port)], env={**os.environ, "WORKSHOP_STATE": tmp,
                                                  "WORKSHOP_CACHE": tmp},  # no hashing
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            code = key = ""
            assert proc.stdout is not None
            for line in proc.stdout:  # the join line and the instructor link
                code = line.split("CODE=")[1].split()[0] if "CODE=" in line else code
                key = line.split("#key=")[1].strip() if "#key=" in line else key
                if code and key:
                    break
            url = f"http://127.0.0.1:{port}"
            _wait_until_answers(url)
            numbers = room(url, code, exercises, learners, reports, stuck_minutes=10)
            with sqlite3.connect(Path(tmp) / "board" / "room.sqlite") as db:
                # Accepted ones: the board keeps only the latest per check (the rest are
                # pruned by design), and counts every report it answered 201 for.
                stored = db.execute("SELECT total(received) FROM learners").fetchone()[0]
            out = {"board_learners": learners, "board_reports_posted": numbers["posted"],
                   "board_reports_lost": learners * reports - int(stored),
                   "board_post_p50_ms": numbers["post_p50_ms"],
                   "board_post_p99_ms": numbers["post_p99_ms"],
                   "board_posts_per_s": numbers["per_s"], "board_clients_at_once": CLIENTS_AT_ONCE}
            try:
                times = render_ms(url, key, learners, loads=5)
                out["board_page_render_ms"] = round(statistics.median(times))
                out["board_page_render_best_ms"] = round(min(times))
            except RuntimeError as exc:
                out["board_page_render_ms"] = None
                out["board_page_render_skipped"] = str(exc)
            return out
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _wait_until_answers(url: str, timeout_s: float = 20) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/ping", timeout=2):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def screenshot(path: str, learners: int = 24) -> None:
    """docs/board.png: the page with a simulated room and one learner's report open."""
    import tempfile
    from pathlib import Path

    from workshop.board import browser
    from workshop.board.app import create_app
    from workshop.board.serve import InThread, kit_exercises
    from workshop.board.store import Room

    exercises = kit_exercises() or ["1.1", "1.2", "1.3"]
    with tempfile.TemporaryDirectory(prefix="board-shot-") as tmp:
        r = Room(Path(tmp) / "room.sqlite")
        server = InThread(create_app(r)).start()
        try:
            room(server.url, r.code, exercises, learners, reports=12, threads=4,
                 stuck_minutes=10)
            with browser.page(width=1360, height=760) as page:
                page.goto(f"{server.url}/#key={r.new_instructor_key}")
                wait_learners(page, learners)
                page.locator("#grid-body tr.is-stuck").first.click()
                page.wait_for_selector("#report:not([hidden]) .check")
                page.screenshot(path=path)
        finally:
            server.stop()
            r.close()


if __name__ == "__main__":
    import sys

    screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/board.png")
