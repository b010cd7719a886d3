"""The board's HTTP API in-process (Starlette's TestClient): who may do what, bad input,
the derived grid, and that a restart loses nothing."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from workshop.board import schema
from workshop.board.app import create_app
from workshop.board.store import Room

from board_helpers import KIT, Clock, report


@pytest.fixture
def client(room):
    return TestClient(create_app(room, kit=KIT, stuck_after_s=600, report_limit="5/minute"),
                      base_url="http://127.0.0.1")


def join(client, room, name="Ada"):
    r = client.post("/api/join", json={"name": name}, headers={"X-Room-Code": room.code})
    assert r.status_code == 201, r.text
    return r.json()


def post(client, room, token, body, **headers):
    return client.post("/api/reports", content=body if isinstance(body, bytes) else
                       json.dumps(body), headers={"X-Room-Code": room.code,
                                                  "Authorization": f"Bearer {token}", **headers})


def board(client, room):
    key = room.new_instructor_key
    r = client.get("/api/board", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_join_and_report_show_up_in_the_grid(client, room, clock):
    me = join(client, room)
    r = post(client, room, me["token"], {"graded_at": clock.t, "report": report(
        1, {"1.1": ["pass", "pass"], "1.2": ["pass", "fail"], "1.3": ["pass", "waiting"]})})
    assert r.status_code == 201
    data = board(client, room)
    assert data["exercises"][:3] == ["1.1", "1.2", "1.3"]
    (row,) = data["learners"]
    assert row["name"] == "Ada" and row["last_seen"] == clock.t
    assert row["cells"] == {"1.1": "pass", "1.2": "fail", "1.3": "waiting"}
    assert [f["check"] for f in data["failing"]] == ["1.2.selector", "1.3.leftovers"]


def test_wrong_room_code_is_401_with_a_fix(client, room):
    r = client.post("/api/join", json={"name": "Ada"}, headers={"X-Room-Code": "WRONG-CODE"})
    assert r.status_code == 401
    assert r.json()["error"] == "wrong room code" and "make join" in r.json()["fix"]
    me = join(client, room)
    r = client.post("/api/reports", json={"graded_at": 1, "report": report()},
                    headers={"Authorization": f"Bearer {me['token']}"})
    assert r.status_code == 401


def test_reports_need_the_learners_own_token(client, room, clock):
    r = post(client, room, "not-a-token", {"graded_at": clock.t, "report": report()})
    assert r.status_code == 401 and "join again" in r.json()["fix"]


def test_learners_cannot_read_the_board_or_each_others_reports(client, room, clock):
    ada, bob = join(client, room, "Ada"), join(client, room, "Bob")
    post(client, room, ada["token"], {"graded_at": clock.t, "report": report()})
    for token in (bob["token"], room.code, ""):
        auth = {"Authorization": f"Bearer {token}", "X-Room-Code": room.code}
        assert client.get("/api/board", headers=auth).status_code == 403
        assert client.get(f"/api/learners/{ada['learner_id']}/report",
                          headers=auth).status_code == 403
        assert client.get("/api/export.csv", headers=auth).status_code == 403
    # ... and there is no learner-facing read at all.
    assert client.get(f"/api/reports?learner={ada['learner_id']}").status_code in (404, 405)


def test_instructor_reads_a_learners_latest_report(client, room, clock):
    me = join(client, room)
    post(client, room, me["token"], {"graded_at": clock.t - 60, "report": report(hint="old")})
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(hint="new")})
    r = client.get(f"/api/learners/{me['learner_id']}/report",
                   headers={"Authorization": f"Bearer {room.new_instructor_key}"})
    assert r.status_code == 200
    assert r.json()["report"]["exercises"][0]["checks"][1]["hint"] == "new"


def test_oversized_report_is_413(client, room):
    me = join(client, room)
    big = b'{"graded_at": 1, "report": "' + b"x" * (schema.MAX_BODY + 1) + b'"}'
    r = post(client, room, me["token"], big)
    assert r.status_code == 413 and "KB" in r.json()["error"]


T = Clock().t  # the test clock's now


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    ({"graded_at": T}, "report: Field required"),
    ({"graded_at": T, "report": "a report"}, "report: Input should be an object"),
    ({"graded_at": "soon", "report": report()}, "graded_at"),
    ({"graded_at": T, "report": {**report(), "exercises": [{"id": "x", "checks": []}]}},
     "no exercise 'x'"),
    ({"graded_at": T, "report": {**report(), "exercises": [
        {"id": "1.1", "title": "", "checks": [{"id": "a", "status": "great"}]}]}}, "status"),
])
def test_malformed_report_is_422_and_says_what_is_wrong(client, room, body, says):
    me = join(client, room)
    r = post(client, room, me["token"], body)
    assert r.status_code == 422 and says in r.json()["error"]
    assert room.report_count() == 0


def test_a_name_with_markup_is_refused(client, room):
    r = client.post("/api/join", json={"name": "<script>alert(1)</script>"},
                    headers={"X-Room-Code": room.code})
    assert r.status_code == 422 and "plain text" in r.json()["error"]
    assert join(client, room, "  O'Brien &  Co  ")["name"] == "O'Brien & Co"


def test_a_flood_from_one_learner_is_429_with_retry_after(client, room, clock):
    me, other = join(client, room, "Flood"), join(client, room, "Calm")
    codes = [post(client, room, me["token"], {"graded_at": clock.t, "report": report()})
             .status_code for _ in range(8)]
    assert codes[:5] == [201] * 5 and codes[-1] == 429
    r = post(client, room, me["token"], {"graded_at": clock.t, "report": report()})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # Another learner is not held back by the flood.
    assert post(client, room, other["token"], {"graded_at": clock.t,
                                               "report": report()}).status_code == 201


def test_guessing_room_codes_gets_rate_limited(client, room):
    codes = [client.post("/api/join", json={"name": "x"}, headers={"X-Room-Code": f"GUESS{i}"})
             .status_code for i in range(25)]
    assert codes[0] == 401 and codes[-1] == 429


def test_stuck_after_n_minutes_on_the_same_failing_check_with_its_hint(client, room, clock):
    me = join(client, room)
    failing = {"1.2": ["pass", "fail"]}
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(1, failing)})
    clock.t += 5 * 60
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(1, failing)})
    assert board(client, room)["learners"][0]["stuck"] is None  # 5 min: not yet
    clock.t += 6 * 60
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(1, failing)})
    stuck = board(client, room)["learners"][0]["stuck"]
    assert stuck["check"] == "1.2.selector" and stuck["minutes"] == 11
    assert stuck["hint"] == "look at .spec.replicas"
    # Passing it ends the streak.
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(1, {"1.2": ["pass", "pass"]})})
    assert board(client, room)["learners"][0]["stuck"] is None


def test_a_late_queued_report_does_not_override_a_newer_one(client, room, clock):
    me = join(client, room)
    post(client, room, me["token"], {"graded_at": clock.t, "report": report(1, {"1.1": ["pass"]})})
    post(client, room, me["token"], {"graded_at": clock.t - 300,
                                     "report": report(1, {"1.1": ["fail"]})})
    assert board(client, room)["learners"][0]["cells"]["1.1"] == "pass"
    assert room.received_count() == 2  # counted; only the one holding the latest is kept
    assert room.report_count() == 1


def test_csv_export_keeps_names_as_text(client, room, clock):
    me = join(client, room, "=HYPERLINK(1)")
    post(client, room, me["token"], {"graded_at": clock.t, "report": report()})
    r = client.get("/api/export.csv", headers={"Authorization": f"Bearer {room.new_instructor_key}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, row = r.text.splitlines()
    assert header.startswith("name,last_activity_utc,1.1,1.2")
    assert row.startswith("'=HYPERLINK(1),") and ",fail," in row


def test_page_is_static_and_locked_down(client):
    r = client.get("/")
    assert r.status_code == 200 and "page.js" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert client.get("/static/page.js").status_code == 200
    assert client.get("/static/../store.py").status_code == 404


def test_a_restart_loses_nothing(tmp_path, clock):
    first = Room(tmp_path / "r.sqlite", clock=clock)
    key, code = first.new_instructor_key, first.code
    c = TestClient(create_app(first, kit=KIT), base_url="http://127.0.0.1")
    me = join(c, first)
    post(c, first, me["token"], {"graded_at": clock.t, "report": report()})
    first.close()
    again = Room(tmp_path / "r.sqlite", clock=clock)
    assert again.code == code and again.new_instructor_key is None
    assert again.instructor_ok(key) and again.report_count() == 1
    c2 = TestClient(create_app(again, kit=KIT), base_url="http://127.0.0.1")
    assert post(c2, again, me["token"], {"graded_at": clock.t, "report": report()}).status_code == 201
    data = c2.get("/api/board", headers={"Authorization": f"Bearer {key}"}).json()
    assert data["learners"][0]["cells"]["1.1"] == "fail"
    again.close()
