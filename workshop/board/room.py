"""The learner's link to the instructor's board.

`workshop join` stores the room (URL, code, the learner's token) in the state folder, mode
0600. From then on lessons.grade hands every report to `report_in_background`, which
writes it to a local queue (one small file each, in the state folder) and starts a
detached sender process, then returns: a check is never slowed by the network (a few
milliseconds) and never fails because of the board. The sender posts everything queued,
oldest first; while the board is unreachable the reports stay queued and go later (the
sender retries with backoff for a while, and every later check starts it again).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from workshop import paths
from workshop.errors import WorkshopError

LINK = paths.STATE / "room.json"
QUEUE = paths.STATE / "room-queue"
REJECTED = QUEUE / "rejected"  # reports the board refused as malformed: kept, not resent
LOCK = paths.STATE / "room-queue.lock"
TIMEOUT_S = 5


# ---------------------------------------------------------------- joining


def load() -> dict | None:
    try:
        link = json.loads(LINK.read_text())
    except (OSError, ValueError):
        return None
    return link if isinstance(link, dict) and {"room", "code", "token"} <= link.keys() else None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _post(url: str, body: dict, headers: dict, timeout: float = TIMEOUT_S) -> tuple[int, dict]:
    """(status, JSON answer); raises OSError when the board cannot be reached."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (room URL)
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            answer = json.load(exc)
        except ValueError:
            answer = {}
        answer["retry_after"] = exc.headers.get("Retry-After")
        return exc.code, answer


def join(room: str, code: str, name: str) -> dict:
    """Join once; joining the same room under the same name again keeps the first join."""
    room = room.strip().rstrip("/")
    if not room.startswith(("http://", "https://")):
        raise WorkshopError(f"`{room}` is not the board's URL",
                            fix="copy the join line `make board` printed, e.g. "
                                "ROOM=http://10.0.0.5:8765")
    current = load()
    if current and current["room"] == room and current.get("name") == name.strip():
        return current
    try:
        status, answer = _post(f"{room}/api/join", {"name": name},
                               {"X-Room-Code": code.strip()})
    except OSError as exc:
        raise WorkshopError(f"the board at {room} does not answer ({exc})",
                            fix="check the URL with the instructor; the board must listen on "
                                "the room's network (make board HOST=0.0.0.0)") from None
    if status != 201:
        raise WorkshopError(f"the board refused to join: {answer.get('error', status)}",
                            fix=answer.get("fix", "check ROOM, CODE and NAME"))
    link = {"room": room, "code": code.strip(), "name": answer["name"],
            "learner_id": answer["learner_id"], "token": answer["token"]}
    _write_private(LINK, json.dumps(link, indent=1))
    return link


def leave() -> bool:
    if not LINK.exists():
        return False
    LINK.unlink()
    return True


# ---------------------------------------------------------------- sending


def report_in_background(report) -> None:
    """lessons.grade's hook: queue the report and start the sender. Never raises."""
    try:
        if load() is None:
            return
        from workshop.grading import core as grading

        enqueue(grading.to_json(report))
        start_sender()
    except Exception:  # the board is a bonus: a check must never fail because of it
        pass


def enqueue(report_json: dict, graded_at: float | None = None) -> Path:
    QUEUE.mkdir(parents=True, exist_ok=True)
    graded_at = time.time() if graded_at is None else graded_at
    path = QUEUE / f"{time.time_ns():020d}-{os.getpid()}.json"
    _write_private(path, json.dumps({"graded_at": graded_at, "report": report_json}))
    return path


def queued() -> list[Path]:
    try:
        return sorted(QUEUE.glob("*.json"))
    except OSError:
        return []


def sender_running() -> bool:
    try:
        lock = LOCK.open("a")
    except OSError:
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
    return False


def start_sender() -> None:
    """A detached `python -m workshop.board.room send`: it outlives a CLI check. None
    when one is already at work: it looks at the queue again before it exits."""
    if sender_running():
        return
    subprocess.Popen([sys.executable, "-m", "workshop.board.room", "send"],
                     env={**os.environ, "WORKSHOP_STATE": str(LINK.parent)},
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def send_queued(give_up_after_s: float = 600, sleep=time.sleep) -> int:
    """Post every queued report; return how many the board took. One sender at a time
    (a lock file); the others return at once, leaving the work to it."""
    total = 0
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with LOCK.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return total
            sent, stopped = _drain(give_up_after_s, sleep)
            total += sent
        # A report queued just as the lock was let go would otherwise wait for the next
        # check: look once more after releasing.
        if stopped or not queued():
            return total


def _drain(give_up_after_s: float, sleep) -> tuple[int, bool]:
    """(reports sent, stopped early: not joined, unknown to the room, or unreachable)."""
    link = load()
    if link is None:
        return 0, True
    sent, backoff, started = 0, 1.0, time.monotonic()
    headers = {"X-Room-Code": link["code"], "Authorization": f"Bearer {link['token']}"}
    while True:
        files = queued()
        if not files:
            return sent, False
        path = files[0]
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a torn write: nothing to send
            continue
        try:
            status, answer = _post(f"{link['room']}/api/reports", body, headers)
        except OSError:
            status, answer = 0, {}
        if status == 201:
            path.unlink(missing_ok=True)
            sent, backoff = sent + 1, 1.0
            continue
        if status in (413, 422):
            REJECTED.mkdir(parents=True, exist_ok=True)
            os.replace(path, REJECTED / path.name)
            continue
        if status in (401, 403):
            return sent, True  # the room no longer knows us: keep them for a new join
        if time.monotonic() - started > give_up_after_s:
            return sent, True  # still queued; the next check starts a sender again
        wait = float(answer.get("retry_after") or 0) if status == 429 else backoff
        sleep(max(wait, 0.05))
        backoff = min(backoff * 2, 30.0)


if __name__ == "__main__":
    if sys.argv[1:] == ["send"]:
        send_queued()
