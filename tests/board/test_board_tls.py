"""TLS on the room's network: a real board on 127.0.0.1 serving HTTPS with the certificate
it made; a learner who pins its fingerprint joins and reports, any other certificate is
refused before the room code leaves the laptop; `workshop board --tls` and `workshop join`
end to end, with no traceback in either for anything refused."""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import stat
import subprocess
import sys
import time

import pytest
from board_helpers import KIT, LiveBoard, report

from workshop.stack import procs
from workshop.board import net, room, tls
from workshop.board.app import create_app
from workshop.board.store import Room
from workshop.errors import WorkshopError


@pytest.fixture
def tls_board(tmp_path):
    """(board, room, certificate): a real uvicorn serving HTTPS on 127.0.0.1."""
    cert = tls.certificate(tmp_path / "board")
    r = Room(tmp_path / "board" / "room.sqlite")
    board = LiveBoard(create_app(r, kit=KIT), cert=cert).start()
    yield board, r, cert
    board.stop()
    r.close()



def test_the_certificate_is_kept_and_its_key_private(tmp_path):
    folder = tmp_path / "board"
    first = tls.certificate(folder, ["10.0.0.5", "board.local"])
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    assert tls.certificate(folder).fingerprint == first.fingerprint  # a restart keeps it
    first.key.unlink()
    assert tls.certificate(folder).fingerprint != first.fingerprint  # a new key, a new pin


def test_the_served_certificate_is_the_fingerprinted_one(tls_board):
    board, _, cert = tls_board
    pem = ssl.get_server_certificate(("127.0.0.1", board.port))
    assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest() == cert.fingerprint


def test_a_pinned_join_over_tls_works_and_reports_flow(tls_board, learner):
    board, r, cert = tls_board
    shown_pin = ":".join(cert.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    link = room.join(board.url, r.code, "Ada", pin=shown_pin)  # as openssl prints it
    assert link["pin"] == cert.fingerprint and link["room"].startswith("https://")
    room.enqueue(report())
    assert room.send_queued(sleep=lambda s: None) == 1
    assert r.report_count() == 1


def test_a_wrong_fingerprint_is_refused_before_anything_is_sent(tls_board, learner):
    board, r, cert = tls_board
    wrong = hashlib.sha256(b"another board").hexdigest()
    with pytest.raises(WorkshopError) as err:
        room.join(board.url, r.code, "Ada", pin=wrong)
    assert "not the one the join line named" in str(err.value)
    assert "posing as the board" in err.value.fix
    assert not room.LINK.exists() and r.board([], 600)["learners"] == []
    # A joined learner whose link names another certificate sends nothing either.
    room.join(board.url, r.code, "Ada", pin=cert.fingerprint)
    link = room.load()
    room.LINK.write_text(__import__("json").dumps({**link, "pin": wrong}))
    room.enqueue(report())
    assert room.send_queued(sleep=lambda s: None) == 0
    assert len(room.queued()) == 1 and r.report_count() == 0


def test_plain_http_to_a_tls_board_fails_cleanly(tls_board, learner):
    board, r, _ = tls_board
    with pytest.raises(WorkshopError) as err:
        room.join(board.url.replace("https://", "http://"), r.code, "Ada")
    assert "does not answer" in str(err.value) or "not HTTP" in str(err.value)


# ---------------------------------------------------------------- end to end


def start_board(state, port, *where) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "workshop.cli", "board", *where, "--port",
                             str(port)], env={**os.environ, "WORKSHOP_STATE": str(state),
                                              "WORKSHOP_CACHE": str(state / "cache")},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "Ctrl-C stops the board" in line:
            break
    out = "".join(seen)
    m = re.search(r"ROOM=(\S+) CODE=\S+ PIN=(\S+)", out)
    deadline = time.monotonic() + 20
    while m:  # printed just before uvicorn starts: wait until it answers
        try:
            with net.request("GET", f"{m[1]}/api/ping", pin=m[2]) as answer:
                assert answer.status == 200
                break
        except ConnectionError:
            assert time.monotonic() < deadline, out
            time.sleep(0.1)
    return proc, out


def workshop_join(state, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", "join", *args],
                          env={**os.environ, "WORKSHOP_STATE": str(state)},
                          capture_output=True, text=True, timeout=60)


# `--tls` on 127.0.0.1, and an address that is not 127.0.0.1 (HTTPS by default, as on the
# room's network; 127.0.0.2 keeps the test's traffic on this machine).
@pytest.mark.parametrize("where, address", [(("--tls",), "127.0.0.1"),
                                            (("--host", "127.0.0.2"), "127.0.0.2")])
def test_workshop_board_tls_and_join_end_to_end(tmp_path, where, address):
    state, port = tmp_path / "board-state", procs.free_port()
    proc, out = start_board(state, port, *where)
    log = ""
    try:
        m = re.search(r"make join ROOM=(\S+) CODE=(\S+) PIN=([0-9a-f]{64}) NAME=", out)
        assert m, out
        url, code, pin = m.groups()
        assert url == f"https://{address}:{port}"
        ok = workshop_join(tmp_path / "ada", "--room", url, "--code", code, "--pin", pin,
                           "--name", "Ada")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        wrong = workshop_join(tmp_path / "bob", "--room", url, "--code", code, "--pin",
                              "ab" * 32, "--name", "Bob")
        said = wrong.stdout + wrong.stderr
        assert wrong.returncode != 0 and "not the one the join line named" in said
        assert "Traceback" not in said
        # Bad input over the real TLS server: all refused with a 4xx.
        for headers, body in [({"X-Room-Code": "ÄBCD"}, b"{}"),
                              ({"X-Room-Code": code}, b"[" * 50_000),
                              ({"X-Room-Code": code}, b'{"name": NaN}'),
                              ({"X-Room-Code": code, "Host": "evil.example"}, b"{}")]:
            encoded = {k: v.encode().decode("latin-1") for k, v in headers.items()}
            with net.request("POST", f"{url}/api/join", pin=pin, headers=encoded,
                             body=body) as answer:
                assert 400 <= answer.status < 500, (headers, answer.status)
    finally:
        proc.terminate()
        log = proc.communicate(timeout=20)[0]
    assert "Traceback" not in out + log
    proc, again = start_board(state, port, *where)
    proc.terminate()
    proc.communicate(timeout=20)
    assert f"PIN={pin}" in again  # the same certificate after a restart


def test_binaries_come_over_the_pinned_connection_only(tls_board, tmp_path, capsys):
    """The learner's binary fetch uses the same pinned TLS (net.request): a board with
    another certificate is never asked, and nothing is written."""
    from workshop.board import binaries
    from workshop.stack import binlock

    board, r, cert = tls_board
    dest = tmp_path / "learner-cache" / "some-key"
    want = {"etcd": binlock.Expected("etcd", 4, "0" * 64)}  # what the repo's lock would pin
    assert not binaries.fetch(board.url, r.code, "some-key", dest, want, pin=cert.fingerprint)
    assert "refused" not in capsys.readouterr().err  # a plain 404: this board serves none
    wrong = hashlib.sha256(b"another board").hexdigest()
    assert not binaries.fetch(board.url, r.code, "some-key", dest, want, pin=wrong)
    assert "not the one the join line named" in capsys.readouterr().err
    assert not dest.exists()
