"""Bad input from the network is a 4xx with a message, never a 500: every case found when
the board was tried as an attacker would (issue 17), through Starlette's TestClient, which
raises on any unhandled exception (so a 500 fails the test by itself). Plus the room's
quotas and pruning, the rate limits (the /bin routes too), and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import time

import pytest
from board_helpers import EXERCISES, KIT, report
from starlette.testclient import TestClient

from workshop.board import schema
from workshop.board.app import create_app
from workshop.board.ratelimit import Limit
from workshop.board.store import Quota, Room


def client_for(room, **kw) -> TestClient:
    return TestClient(create_app(room, kit=KIT, **kw), base_url="http://127.0.0.1")


@pytest.fixture
def client(room):
    return client_for(room)


def join(client, room, name="Ada"):
    r = client.post("/api/join", json={"name": name}, headers={"X-Room-Code": room.code})
    assert r.status_code == 201, r.text
    return r.json()


def post(client, room, token, body):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/reports", content=content, headers={
        "X-Room-Code": room.code, "Authorization": f"Bearer {token}",
        "Content-Type": "application/json"})


def columns(client, room) -> list[str]:
    r = client.get("/api/board", headers={"Authorization": f"Bearer {room.new_instructor_key}"})
    assert r.status_code == 200, r.text
    return r.json()["exercises"]


# ---------------------------------------------------------------- headers and JSON


@pytest.mark.parametrize("header", ["X-Room-Code", "Authorization", "User-Agent"])
def test_a_non_ascii_header_is_400(client, room, header):
    value = "Bearer é" if header == "Authorization" else "ÄBCD-ÉFGH"
    for path in ("/api/join", "/api/reports"):
        r = client.post(path, json={"name": "Ada"},
                        headers={"X-Room-Code": room.code, header: value.encode()})
        assert r.status_code == 400 and "ASCII" in r.json()["error"]
    assert client.get("/api/board", headers={header: value.encode()}).status_code == 400


def test_a_host_that_is_not_this_board_is_400(client):
    assert client.get("/api/ping").status_code == 200
    assert client.get("/api/ping", headers={"Host": "attacker.example"}).status_code == 400


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    b"\xff\xfe not utf-8",
    b"",
    b"null",
    b'{"name": ["Ada"]}',
    b'{"name": 7}',
])
def test_a_malformed_or_deeply_nested_join_is_422(client, room, body):
    r = client.post("/api/join", content=body[: schema.MAX_BODY],
                    headers={"X-Room-Code": room.code, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert room.board([], 600)["learners"] == []


@pytest.mark.parametrize("graded_at", [
    "NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "0", "1.0", "-5",
    "true", '"soon"', "null",
])
def test_graded_at_that_is_not_a_sane_time_is_422(client, room, clock, graded_at):
    me = join(client, room)
    body = b'{"graded_at": ' + graded_at.encode() + b', "report": ' + \
        json.dumps(report()).encode() + b"}"
    r = post(client, room, me["token"], body)
    assert r.status_code == 422, r.text
    assert room.report_count() == 0


def test_graded_at_window_is_the_last_day_and_a_little_ahead(client, room, clock):
    me = join(client, room)
    too_old = clock.t - schema.MAX_AGE_S - 1
    assert post(client, room, me["token"], {"graded_at": too_old,
                                            "report": report()}).status_code == 422
    ahead = clock.t + schema.MAX_AHEAD_S + 1
    assert post(client, room, me["token"], {"graded_at": ahead,
                                            "report": report()}).status_code == 422
    # A laptop clock a little ahead is pulled back to the board's (never "stuck" at once).
    assert post(client, room, me["token"], {"graded_at": clock.t + 60,
                                            "report": report()}).status_code == 201
    assert room.board([], 600)["learners"][0]["last_seen"] == clock.t


def ids_changed(**change):
    r = report(1, {"1.1": ["pass", "fail"]})
    ex = r["exercises"][0]
    if "exercise" in change:
        ex["id"] = change["exercise"]
    if "check" in change:
        ex["checks"][0]["id"] = change["check"]
    if "lesson" in change:
        r["lesson"] = change["lesson"]
    return r


@pytest.mark.parametrize("made_up, says", [
    (ids_changed(exercise="9.9"), "no exercise '9.9'"),
    (ids_changed(exercise="99.1", lesson=99), "no lesson 99"),
    (ids_changed(exercise="1.99"), "no exercise '1.99'"),
    (ids_changed(exercise="2.1"), "no exercise '2.1' in lesson 1"),
    (ids_changed(check="1.1.invented"), "is not a check of exercise 1.1"),
    (ids_changed(check="1.2.deployment"), "is not a check of exercise 1.1"),
    (ids_changed(check="=cmd|' /C calc'!A0"), "is not a check"),
    (ids_changed(check="1.1.image"), "(twice)"),
])
def test_exercise_and_check_ids_must_be_the_kits(client, room, clock, made_up, says):
    me = join(client, room)
    before = columns(client, room)
    r = post(client, room, me["token"], {"graded_at": clock.t, "report": made_up})
    assert r.status_code == 422 and says in r.json()["error"], r.text
    assert columns(client, room) == before == KIT.exercises  # no new column


def test_fifty_invented_exercises_add_no_column(client, room, clock):
    me = join(client, room)
    for i in range(50):
        bad = ids_changed(exercise=f"1.x{i}")
        assert post(client, room, me["token"], {"graded_at": clock.t,
                                                "report": bad}).status_code in (422, 429)
    assert columns(client, room) == KIT.exercises


@pytest.mark.parametrize("field, value", [
    ("hint", "x" * (schema.MAX_TEXT + 1)),
    ("points", -1),
    ("points", 10**9),
    ("points", True),
    ("points", 1.5),
    ("points", "1"),
    ("status", "great"),
    ("found", {"nested": ["deep"]}),
])
def test_check_fields_are_bounded_and_typed(client, room, clock, field, value):
    me = join(client, room)
    r = report()
    r["exercises"][0]["checks"][0][field] = value
    resp = post(client, room, me["token"], {"graded_at": clock.t, "report": r})
    assert resp.status_code == 422 and field in resp.json()["error"], resp.text


def test_too_many_items_is_422(client, room, clock):
    me = join(client, room)
    r = report()
    r["exercises"] = r["exercises"] * (schema.MAX_ITEMS + 1)
    assert post(client, room, me["token"], {"graded_at": clock.t, "report": r}).status_code == 422


# ---------------------------------------------------------------- quotas and pruning


def test_a_room_takes_a_bounded_number_of_learners(tmp_path, clock):
    r = Room(tmp_path / "r.sqlite", clock=clock, quota=Quota(learners=3))
    c = client_for(r)
    for i in range(3):
        join(c, r, f"L{i}")
    full = c.post("/api/join", json={"name": "one more"}, headers={"X-Room-Code": r.code})
    assert full.status_code == 507 and "full" in full.json()["error"] and full.json()["fix"]
    assert len(r.board([], 600)["learners"]) == 3
    r.close()


def test_old_reports_are_pruned_to_the_latest_per_check(client, room, clock):
    me = join(client, room)
    for i in range(10):  # the same exercise again and again
        clock.t += 1
        assert post(client, room, me["token"], {"graded_at": clock.t, "report": report(
            1, {"1.1": ["pass", "fail"]}, hint=f"try {i}")}).status_code == 201
    clock.t += 1
    assert post(client, room, me["token"], {"graded_at": clock.t, "report": report(
        1, {"1.2": ["fail"]})}).status_code == 201
    assert room.received_count() == 11
    assert room.report_count() == 2  # the latest for 1.1's checks, the latest for 1.2's
    # A late queued report is counted but kept only if it holds some check's latest verdict.
    assert post(client, room, me["token"], {"graded_at": clock.t - 100, "report": report(
        1, {"1.1": ["fail"]})}).status_code == 201
    assert room.report_count() == 2 and room.received_count() == 12
    # What the page shows is unchanged by the pruning.
    data = room.board(EXERCISES, 600)
    assert data["learners"][0]["cells"] == {"1.1": "fail", "1.2": "fail"}
    failing = {f["check"]: f["hint"] for f in data["failing"]}
    assert failing["1.1.image"] == "try 9"
    latest = room.latest_report(me["learner_id"])["report"]
    assert [ex["id"] for ex in latest["exercises"]] == ["1.2"]


def big_report(lesson_exercise: str, size_kb: int) -> dict:
    n = len(KIT.checks[lesson_exercise])
    return report(int(lesson_exercise.split(".")[0]),
                  {lesson_exercise: ["fail"] * n}, hint="h" * min(size_kb * 1024 // n,
                                                              schema.MAX_TEXT))


def test_twenty_learners_times_thirty_big_reports_stay_small(tmp_path, clock):
    """The issue's flood (20 learners x 30 reports of ~20-60 KB grew the room by 34 MiB):
    each learner keeps one report per exercise they sent."""
    r = Room(tmp_path / "r.sqlite", clock=clock)
    c = client_for(r, report_limit="1000/minute")
    body = big_report("1.1", 60)
    size = len(json.dumps(body, separators=(",", ":")))
    for i in range(20):
        me = join(c, r, f"Flood {i}")
        for _ in range(30):
            clock.t += 1
            answer = post(c, r, me["token"], {"graded_at": clock.t, "report": body})
            assert answer.status_code == 201
    assert r.received_count() == 600 and r.report_count() == 20
    assert r.stored_bytes <= 20 * size
    r.close()
    assert (tmp_path / "r.sqlite").stat().st_size < 3 * 20 * size + 2**20


def test_a_full_room_store_is_507_and_keeps_what_it_has(tmp_path, clock):
    r = Room(tmp_path / "r.sqlite", clock=clock, quota=Quota(bytes=30_000))
    c = client_for(r)
    a, b = join(c, r, "A"), join(c, r, "B")
    assert post(c, r, a["token"], {"graded_at": clock.t, "report": big_report("1.1", 20)}
                ).status_code == 201
    full = post(c, r, b["token"], {"graded_at": clock.t, "report": big_report("1.2", 20)})
    assert full.status_code == 507 and "storage is full" in full.json()["error"]
    assert r.report_count() == 1 and r.stored_bytes <= 30_000
    # A learner replacing their own report still can: theirs is pruned first.
    assert post(c, r, a["token"], {"graded_at": clock.t + 1, "report": big_report("1.1", 20)}
                ).status_code == 201
    r.close()


# ---------------------------------------------------------------- rate limits


def test_the_bin_routes_are_rate_limited_too(room):
    c = client_for(room, bin_limit="3/minute")
    codes = [c.get("/bin/some-key/manifest", headers={"X-Room-Code": room.code}).status_code
             for _ in range(4)]
    assert codes[:3] == [404] * 3 and codes[3] == 429
    r = c.get("/bin/some-key/files/kubectl", headers={"X-Room-Code": room.code})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60


def test_the_limiter_forgets_clients_once_their_window_passed():
    limit = Limit("2/1 second")
    for i in range(500):  # made-up addresses
        assert limit.take(f"10.0.{i // 250}.{i % 250}") == 0
    assert limit.take("10.0.0.0") == 0 and limit.take("10.0.0.0") > 0
    deadline = time.monotonic() + 10
    limit.take("now")  # (its memory storage runs its expiry after a hit)
    while len(limit.storage.storage) > 2:
        assert time.monotonic() < deadline, "the limiter still remembers every address"
        time.sleep(0.2)
        limit.take("now")
    assert limit.take("10.0.0.0") == 0  # allowed again


# ---------------------------------------------------------------- CSV and files


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)",
                                  "|cmd", "%0A"])
def test_every_csv_cell_is_escaped(client, room, clock, name):
    me = join(client, room, name)
    clock.t += 1
    post(client, room, me["token"], {"graded_at": clock.t - 3600, "report": report(
        1, {"1.1": ["pass", "fail"]})})
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(
        1, {"1.1": ["pass", "fail"]})})
    r = client.get("/api/export.csv",
                   headers={"Authorization": f"Bearer {room.new_instructor_key}"})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[1][0] == "'" + name.replace("|", "\\|")
    assert rows[1][rows[0].index("stuck_on")] == "1.1.image"
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "|", "%") or \
                (cell.lstrip("-").replace(".", "").isdigit()), cell


def test_database_wal_and_shm_are_private(tmp_path, clock):
    folder = tmp_path / "board"
    r = Room(folder / "room.sqlite", clock=clock)
    c = client_for(r)
    me = join(c, r)
    post(c, r, me["token"], {"graded_at": clock.t, "report": report()})
    files = ["room.sqlite", "room.sqlite-wal", "room.sqlite-shm"]
    for name in files:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    r.close()
    # A room kept from an older kit (files 0644) is locked down when it is opened.
    for name in files:
        if (folder / name).exists():
            os.chmod(folder / name, 0o644)
    folder.chmod(0o755)
    again = Room(folder / "room.sqlite", clock=clock)
    for name in files:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again.close()



def test_a_room_made_by_the_previous_kit_opens_and_keeps_working(tmp_path, clock):
    """Rooms are kept across restarts, so across an upgrade of the kit too: the columns
    added since (received, seq) are added, nothing is lost."""
    import sqlite3

    old = sqlite3.connect(tmp_path / "r.sqlite")
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE learners (id TEXT PRIMARY KEY, name TEXT NOT NULL,
          token_hash TEXT NOT NULL UNIQUE, joined_at REAL NOT NULL, last_seen REAL,
          last_graded REAL);
        CREATE TABLE checks (learner_id TEXT NOT NULL, check_id TEXT NOT NULL,
          status TEXT NOT NULL, since REAL NOT NULL, at REAL NOT NULL, hint TEXT NOT NULL,
          PRIMARY KEY (learner_id, check_id));
        INSERT INTO meta VALUES ('room_code', 'ABCD-EFGH');
        INSERT INTO learners VALUES ('old1', 'Grace', 'x', 1, 1, NULL);
        INSERT INTO checks VALUES ('old1', '1.1.image', 'fail', 1, 1, 'an old hint');
    """)
    old.close()
    r = Room(tmp_path / "r.sqlite", clock=clock)
    assert r.code == "ABCD-EFGH"
    c = client_for(r)
    me = join(c, r)
    assert post(c, r, me["token"], {"graded_at": clock.t, "report": report()}).status_code == 201
    names = [learner["name"] for learner in r.board([], 600)["learners"]]
    assert names == ["Ada", "Grace"] and r.received_count() == 1
    r.close()
