"""The real server's own bounds: a connection that never finishes its request head is
closed (uvicorn alone keeps it open for good), and the board still answers afterwards."""

from __future__ import annotations

import socket
import time
import urllib.request

from board_helpers import KIT, LiveBoard

from workshop.board.app import create_app
from workshop.board.serve import SERVER_LIMITS


def test_half_open_connections_are_closed_and_the_board_still_answers(room):
    board = LiveBoard(create_app(room, kit=KIT), head_timeout_s=1.0).start()
    socks = []
    try:
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", board.port), timeout=10)
            if i % 2:  # half send a head that never ends, half send nothing at all
                s.sendall(b"POST /api/join HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(s)
        started = time.monotonic()
        for s in socks:
            assert s.recv(1024) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < 8
        with urllib.request.urlopen(f"{board.url}/api/ping", timeout=10) as resp:
            assert resp.status == 200
    finally:
        for s in socks:
            s.close()
        board.stop()


def test_a_slow_but_whole_request_is_served(room):
    board = LiveBoard(create_app(room, kit=KIT), head_timeout_s=2.0).start()
    try:
        with socket.create_connection(("127.0.0.1", board.port), timeout=10) as s:
            for part in (b"GET /api/ping HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
                s.sendall(part)
                time.sleep(0.3)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        board.stop()


def test_an_oversized_request_head_is_refused(room, capfd):
    board = LiveBoard(create_app(room, kit=KIT)).start()
    try:
        with socket.create_connection(("127.0.0.1", board.port), timeout=10) as s:
            # A head past the bound that has not ended yet: no more of it is buffered.
            s.sendall(b"GET /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                      b"a" * (SERVER_LIMITS["h11_max_incomplete_event_size"] + 1024))
            assert s.recv(4096).startswith(b"HTTP/1.1 400")
    finally:
        board.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_the_server_is_bounded():
    assert SERVER_LIMITS["limit_concurrency"] and SERVER_LIMITS["h11_max_incomplete_event_size"]
    assert SERVER_LIMITS["timeout_keep_alive"] <= 10 and SERVER_LIMITS["proxy_headers"] is False
