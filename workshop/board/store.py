"""The room in SQLite: learners, their latest reports, and the grid derived from them.

WAL mode with synchronous=NORMAL: a report the board answered 201 for survives a board
crash or restart. `cells` and `checks` hold the latest verdict per learner and exercise /
check, updated in the same transaction, so the instructor's page is a few small queries
however many reports came in.

Bounded: a room takes at most `Quota.learners` learners, and of each learner's reports it
keeps only those still holding the latest verdict of some check (plus their latest report,
which the instructor opens), at most `Quota.reports_per_learner`; the kept report bodies
are capped at `Quota.bytes` for the room (the database is about twice that: the latest
hints are kept beside the grid). Past a quota the board answers 507 and keeps what it has.

Private: the folder is 0700 and the database, its -wal and -shm are 0600 (created under a
0077 umask: SQLite makes the -wal and -shm when it opens the database, before any chmod).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from defusedcsv import csv  # every cell escaped: no formula reaches a spreadsheet

from workshop.board import schema

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud in a room

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS learners (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
  joined_at REAL NOT NULL, last_seen REAL, last_graded REAL,
  received INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reports (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, learner_id TEXT NOT NULL, graded_at REAL NOT NULL,
  received_at REAL NOT NULL, lesson INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reports_by_learner ON reports (learner_id, graded_at);
CREATE TABLE IF NOT EXISTS cells (
  learner_id TEXT NOT NULL, exercise_id TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY (learner_id, exercise_id));
CREATE TABLE IF NOT EXISTS checks (
  learner_id TEXT NOT NULL, check_id TEXT NOT NULL, status TEXT NOT NULL,
  since REAL NOT NULL, at REAL NOT NULL, hint TEXT NOT NULL, seq INTEGER,
  PRIMARY KEY (learner_id, check_id));
"""
# Columns added since the first rooms were made: a room kept from before gets them.
MIGRATIONS = {"learners": ("received", "INTEGER NOT NULL DEFAULT 0"),
              "checks": ("seq", "INTEGER")}


@dataclass(frozen=True)
class Quota:
    learners: int = 500
    reports_per_learner: int = 200  # kept ones; the kit has ~170 checks in ~25 exercises
    bytes: int = 64 * 2**20  # the kept report bodies of the whole room


class QuotaFull(Exception):
    """The room is full (learners or stored bytes); str() says which."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_room_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def exercise_order(ex_id: str) -> tuple:
    lesson, _, rest = ex_id.partition(".")
    return (int(lesson), int(rest) if rest.isdigit() else 10**6, rest)


class Room:
    """One room's storage. Thread-safe: one connection behind a lock (writes are ~1 ms)."""

    def __init__(self, path: Path, clock=time.time, quota: Quota = Quota()):
        self.path = Path(path)
        self.clock, self.quota = clock, quota
        self._lock = threading.Lock()
        self._db = _open_private(self.path)
        for table, (column, kind) in MIGRATIONS.items():
            if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self._bytes = self._db.execute("SELECT total(length(body)) FROM reports").fetchone()[0]
        # Bumped on every write; the page skips redraws while it is unchanged. The random
        # prefix keeps a restarted board's counter from matching an old page's.
        self._writes, self._epoch = 0, secrets.token_hex(4)
        self.new_instructor_key: str | None = None  # set only when this open created it
        if self._meta("room_code") is None:
            self._set_meta("room_code", new_room_code())
            self.rotate_instructor_key()

    @property
    def version(self) -> str:
        return f"{self._epoch}.{self._writes}"

    # ------------------------------------------------------------ secrets

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def code(self) -> str:
        return self._meta("room_code") or ""

    def code_ok(self, code: str | None) -> bool:
        # compare_digest takes ASCII str only; anything else is simply not the code.
        return bool(code) and code.isascii() and \
            hmac.compare_digest(code.strip().upper(), self.code)

    def rotate_instructor_key(self) -> str:
        """A new instructor key; only its hash is stored, so it is shown once."""
        key = secrets.token_urlsafe(24)
        self._set_meta("instructor_key_hash", _hash(key))
        self.new_instructor_key = key
        return key

    def instructor_ok(self, key: str | None) -> bool:
        stored = self._meta("instructor_key_hash") or ""
        return bool(key) and hmac.compare_digest(_hash(key), stored)

    # ------------------------------------------------------------ writes

    def join(self, name: str) -> tuple[str, str]:
        """(learner id, learner token). The token is what proves later reports are theirs.
        Raises QuotaFull when the room has its most learners."""
        learner_id, token = uuid.uuid4().hex[:12], secrets.token_urlsafe(24)
        with self._lock:
            if self._db.execute("SELECT count(*) FROM learners").fetchone()[0] >= \
                    self.quota.learners:
                raise QuotaFull(f"the room is full ({self.quota.learners} learners)")
            self._db.execute("INSERT INTO learners (id, name, token_hash, joined_at, last_seen) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (learner_id, name, _hash(token), self.clock(), self.clock()))
            self._writes += 1
        return learner_id, token

    def learner_for(self, token: str | None) -> str | None:
        if not token:
            return None
        row = self._db.execute("SELECT id FROM learners WHERE token_hash=?",
                               (_hash(token),)).fetchone()
        return row[0] if row else None

    def add_report(self, learner_id: str, graded_at: float, report: dict) -> int:
        """The report's sequence number. Raises QuotaFull when the room's stored bytes are
        used up (older reports of this learner are pruned first)."""
        now = self.clock()
        # ensure_ascii (json's default): characters are bytes, in Python and SQLite's length()
        body = json.dumps(report, separators=(",", ":"), ensure_ascii=True)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = db.execute(
                    "INSERT INTO reports (learner_id, graded_at, received_at, lesson, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (learner_id, graded_at, now, report["lesson"], body)).lastrowid
                db.execute("UPDATE learners SET last_seen=?, last_graded=max(coalesce("
                           "last_graded, 0), ?), received=received+1 WHERE id=?",
                           (now, graded_at, learner_id))
                for ex in report["exercises"]:
                    if not ex["checks"]:
                        continue
                    # A queued report can arrive after a newer one: never let it win.
                    db.execute("INSERT INTO cells VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                               "status=excluded.status, at=excluded.at WHERE excluded.at >= at",
                               (learner_id, ex["id"], schema.exercise_status(ex["checks"]),
                                graded_at))
                    for c in ex["checks"]:
                        self._update_check(learner_id, c, graded_at, seq)
                freed = self._prune(learner_id)
                if self._bytes - freed + len(body) > self.quota.bytes:
                    raise QuotaFull(f"the room's storage is full ({self.quota.bytes // 2**20} MB "
                                    "of reports)")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._bytes += len(body) - freed
            self._writes += 1
        return seq

    def _update_check(self, learner_id: str, c: dict, at: float, seq: int) -> None:
        # `since` is when the current streak of this status began: a check failing
        # since 10:02 and graded again at 10:15 has been failing for 13 minutes.
        self._db.execute(
            "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "since=CASE WHEN (status='pass') = (excluded.status='pass') THEN since "
            "ELSE excluded.since END, status=excluded.status, at=excluded.at, "
            "hint=excluded.hint, seq=excluded.seq WHERE excluded.at >= at",
            (learner_id, c["id"], c["status"], at, at, c["hint"], seq))

    def _prune(self, learner_id: str) -> int:
        """Drop this learner's reports that no longer hold the latest verdict of any check
        (their latest report stays: the instructor opens it), then the oldest past the
        per-learner quota. Returns the bytes freed. Inside add_report's transaction."""
        db = self._db
        keep = ("SELECT seq FROM checks WHERE learner_id=:l AND seq IS NOT NULL UNION "
                "SELECT seq FROM (SELECT seq FROM reports WHERE learner_id=:l "
                "ORDER BY graded_at DESC, seq DESC LIMIT 1)")
        args = {"l": learner_id, "most": self.quota.reports_per_learner}
        gone = f"learner_id=:l AND seq NOT IN ({keep})"
        freed = db.execute(f"SELECT total(length(body)) FROM reports WHERE {gone}",
                           args).fetchone()[0]
        db.execute(f"DELETE FROM reports WHERE {gone}", args)
        over = ("learner_id=:l AND seq NOT IN (SELECT seq FROM reports WHERE learner_id=:l "
                "ORDER BY graded_at DESC, seq DESC LIMIT :most)")
        freed += db.execute(f"SELECT total(length(body)) FROM reports WHERE {over}",
                            args).fetchone()[0]
        db.execute(f"DELETE FROM reports WHERE {over}", args)
        return int(freed)

    # ------------------------------------------------------------ reads

    def report_count(self) -> int:
        """Reports stored now (older ones are pruned: see the module docstring)."""
        return self._db.execute("SELECT count(*) FROM reports").fetchone()[0]

    def received_count(self) -> int:
        """Reports the board ever accepted (answered 201 for), pruned ones included."""
        return self._db.execute("SELECT total(received) FROM learners").fetchone()[0]

    @property
    def stored_bytes(self) -> int:
        return int(self._bytes)

    def latest_report(self, learner_id: str) -> dict | None:
        row = self._db.execute(
            "SELECT l.name, r.graded_at, r.body FROM reports r JOIN learners l ON l.id = "
            "r.learner_id WHERE r.learner_id=? ORDER BY r.graded_at DESC, r.seq DESC LIMIT 1",
            (learner_id,)).fetchone()
        if row is None:
            return None
        return {"name": row[0], "graded_at": row[1], "report": json.loads(row[2])}

    def board(self, exercises: list[str], stuck_after_s: float, recent_s: float = 900) -> dict:
        """The whole page's data: learners x exercises, who is stuck, what fails most."""
        now = self.clock()
        with self._lock:
            db = self._db
            learners = db.execute("SELECT id, name, last_seen, last_graded FROM learners "
                                  "ORDER BY name COLLATE NOCASE, joined_at").fetchall()
            cells = db.execute("SELECT learner_id, exercise_id, status FROM cells").fetchall()
            failing = db.execute("SELECT learner_id, check_id, status, since, at, hint "
                                 "FROM checks WHERE status != 'pass'").fetchall()
        grid: dict[str, dict] = {}
        seen = set(exercises)
        for learner_id, ex_id, status in cells:
            grid.setdefault(learner_id, {})[ex_id] = status
            seen.add(ex_id)
        last_graded = {row[0]: row[3] for row in learners}
        stuck: dict[str, dict] = {}
        room_failing: dict[str, dict] = {}
        for learner_id, check_id, status, since, at, hint in failing:
            # Stuck: the check failed in the learner's latest grading and has been failing
            # for longer than the threshold (someone who moved on is not stuck on it).
            if at == last_graded.get(learner_id) and now - since > stuck_after_s:
                if learner_id not in stuck or since < stuck[learner_id]["since"]:
                    stuck[learner_id] = {"check": check_id, "since": since, "hint": hint,
                                         "minutes": round((now - since) / 60)}
            if now - at <= recent_s:
                entry = room_failing.setdefault(check_id, {"check": check_id, "learners": 0,
                                                           "hint": hint, "at": at})
                entry["learners"] += 1
                if at >= entry["at"]:
                    entry["hint"], entry["at"] = hint, at
        top = sorted(room_failing.values(), key=lambda e: (-e["learners"], e["check"]))[:5]
        return {
            "now": now,
            "version": self.version,
            "stuck_after_minutes": stuck_after_s / 60,
            "exercises": sorted(seen, key=exercise_order),
            # Last activity: the learner's latest check (a report that waited in their
            # queue counts from when it was graded, not when it arrived).
            "learners": [{"id": lid, "name": name, "last_seen": graded or last_seen,
                          "cells": grid.get(lid, {}), "stuck": stuck.get(lid)}
                         for lid, name, last_seen, graded in learners],
            "failing": [{k: e[k] for k in ("check", "learners", "hint")} for e in top],
        }

    def csv(self, exercises: list[str], stuck_after_s: float) -> str:
        data = self.board(exercises, stuck_after_s)
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["name", "last_activity_utc", *data["exercises"], "stuck_on", "stuck_minutes"])
        for learner in data["learners"]:
            stuck = learner["stuck"] or {}
            last = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(learner["last_seen"] or 0))
            w.writerow([learner["name"], last,
                        *[learner["cells"].get(ex, "") for ex in data["exercises"]],
                        stuck.get("check", ""), stuck.get("minutes", "")])
        return out.getvalue()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _open_private(path: Path) -> sqlite3.Connection:
    """The database in a 0700 folder, it and its -wal/-shm 0600 (see the module docstring).
    The umask is the process's: set only around the open, before the server's threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    old = os.umask(0o077)
    try:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
    finally:
        os.umask(old)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():  # a room made before this kit's version: lock it down too
            p.chmod(0o600)
    return db
