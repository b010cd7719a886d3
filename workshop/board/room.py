"""The learner's link to the instructor's board.

`workshop join` stores the room (URL, code, the learner's token) in the state folder, mode
0600. From then on lessons.grade hands every report to `report_in_background`, which
writes it to a local queue (one small file each, in the state folder) and starts a
detached sender process, then returns: a check is never slowed by the network (a few
milliseconds) and never fails because of the board. The sender posts everything queued,
oldest first; while the board is unreachable the reports stay queued and go later (the
sender retries with backoff for a while, and every later check starts it again).

What the learner's side trusts is in net.py: the pinned certificate beyond loopback, no
redirects, a capped Retry-After, and the board's text shown without control characters.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from workshop import paths
from workshop.board import net
from workshop.errors import WorkshopError

LINK = paths.STATE / "room.json"
QUEUE = paths.STATE / "room-queue"
REJECTED = QUEUE / "rejected"  # reports the board refused as malformed: kept, not resent
LOCK = paths.STATE / "room-queue.lock"
TIMEOUT_S = 5
# What a join answer must look like before it is stored and sent back as headers.
LEARNER_ID = re.compile(r"^[0-9a-f]{1,64}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
CODE = re.compile(r"^[A-Za-z0-9-]{1,40}$")


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


def _post(url: str, body: dict, headers: dict, pin: str | None,
          timeout: float = TIMEOUT_S) -> tuple[int, dict, str | None]:
    """(status, JSON answer, Retry-After); raises OSError when the board cannot be
    reached, net.Untrusted (an OSError) when it fails a check (nothing was sent)."""
    with net.request("POST", url, pin=pin, body=json.dumps(body).encode(), timeout=timeout,
                     headers={"Content-Type": "application/json", **headers}) as answer:
        return answer.status, answer.json(), answer.headers.get("Retry-After")


def join(room: str, code: str, name: str, pin: str | None = None) -> dict:
    """Join once; joining the same room under the same name again keeps the first join.
    `pin`: the board's certificate fingerprint from the join line (https:// boards)."""
    room = room.strip().rstrip("/")
    code = code.strip()
    try:
        pin = net.normalize_pin(pin)
        net.check_room_url(room, pin)
    except ValueError as exc:
        raise WorkshopError(str(exc), fix="copy the whole join line `make board` printed, "
                            "e.g. make join ROOM=https://10.0.0.5:8765 CODE=ABCD-EFGH "
                            "PIN=<fingerprint> NAME='<your name>'") from None
    if not CODE.match(code):
        raise WorkshopError("the room code is letters, digits and a dash (e.g. ABCD-EFGH)",
                            fix="copy CODE=... from the join line")
    current = load()
    if current and current["room"] == room and current.get("name") == name.strip() \
            and current.get("pin") == pin:
        return current
    try:
        status, answer, _ = _post(f"{room}/api/join", {"name": name}, {"X-Room-Code": code},
                                  pin)
    except net.Untrusted as exc:
        raise WorkshopError(f"not joined: {exc}",
                            fix="check ROOM and PIN against the instructor's screen; if they "
                                "match, something on this network is posing as the board: "
                                "tell the instructor") from None
    except OSError as exc:
        raise WorkshopError(f"the board at {room} does not answer ({net.shown(exc, 120)})",
                            fix="check the URL with the instructor; the board must listen on "
                                "the room's network (make board HOST=0.0.0.0)") from None
    if status != 201:
        raise WorkshopError("the board refused to join: "
                            f"{net.shown(answer.get('error', status), 200)}",
                            fix=net.shown(answer.get("fix") or "check ROOM, CODE and NAME",
                                          300))
    learner_id, token = answer.get("learner_id"), answer.get("token")
    if not (isinstance(learner_id, str) and LEARNER_ID.match(learner_id)
            and isinstance(token, str) and TOKEN.match(token)):
        raise WorkshopError("the board's answer to the join is not what a board sends",
                            fix="check ROOM with the instructor")
    link = {"room": room, "code": code, "pin": pin,
            "name": net.shown(answer.get("name") or name, 40),
            "learner_id": learner_id, "token": token}
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
    pin = link.get("pin")
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
            status, _answer, retry = _post(f"{link['room']}/api/reports", body, headers, pin)
        except net.Untrusted:
            return sent, True  # kept queued: a rejoin with the right PIN sends them
        except OSError:
            status, _answer, retry = 0, {}, None
        if status == 201:
            path.unlink(missing_ok=True)
            sent, backoff = sent + 1, 1.0
            continue
        if status in (413, 422):
            REJECTED.mkdir(parents=True, exist_ok=True)
            os.replace(path, REJECTED / path.name)
            continue
        if status in (401, 403, 507):
            return sent, True  # the room no longer knows us, or is full: keep them
        if time.monotonic() - started > give_up_after_s:
            return sent, True  # still queued; the next check starts a sender again
        wait = net.retry_after(retry, backoff) if status in (429, 503) else backoff
        sleep(max(wait, 0.05))
        backoff = min(backoff * 2, 30.0)


if __name__ == "__main__":
    if sys.argv[1:] == ["send"]:
        send_queued()
