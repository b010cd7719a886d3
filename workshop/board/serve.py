"""`make board`: open (or reopen) the room, print the join line, serve until Ctrl-C.

On loopback it serves plain HTTP; beyond loopback (or with --tls) HTTPS with the board's
own certificate (tls.py), and the join line carries its fingerprint for learners to pin.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from workshop import paths
from workshop.board import binaries, schema, tls
from workshop.board.app import LOOPBACK_HOSTS, create_app
from workshop.board.store import Room
from workshop.errors import WorkshopError
from workshop.progress import say
from workshop.stack import procs, toolchain

DEFAULT_PORT = 8765
DB = paths.STATE / "board" / "room.sqlite"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The server's own bounds (what uvicorn offers): connections at once (past it, 503),
# how long an idle keep-alive connection is kept, the largest request head (headers).
SERVER_LIMITS = {"limit_concurrency": 256, "timeout_keep_alive": 5,
                 "h11_max_incomplete_event_size": 16 * 1024, "backlog": 256,
                 "proxy_headers": False, "server_header": False,
                 # Ctrl-C waits this long at most for open connections (a TLS peer that
                 # never says goodbye would otherwise hold the shutdown ~30 s).
                 "timeout_graceful_shutdown": 5}
# uvicorn has no timeout for a request head that trickles in (or never comes): without
# one, a few hundred half-open connections hold every slot. See head_timeout_protocol.
HEAD_TIMEOUT_S = 10.0


def head_timeout_protocol(seconds: float = HEAD_TIMEOUT_S):
    """uvicorn's h11 protocol, plus: a connection must deliver a whole request head within
    `seconds` of opening (or of its last response), else it is closed."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeout(H11Protocol):
        _head_timer = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a whole request head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same time
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadTimeout


def kit_exercises() -> list[str]:
    """Every exercise the kit has: the grid's columns before anyone reports."""
    return schema.Kit.from_lessons().exercises


def local_addresses() -> list[str]:
    """This machine's own addresses and name: the Host headers the board answers to."""
    import psutil

    found = [a.address.split("%")[0] for addrs in psutil.net_if_addrs().values()
             for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]
    return [*found, socket.gethostname()]


def room_address() -> str:
    """This machine's address on the room's network (the first non-loopback IPv4)."""
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET" and not ipaddress.ip_address(a.address).is_loopback:
                return a.address
    return "127.0.0.1"


def describe_binaries(served: binaries.Served) -> str:
    key = toolchain.cache_key(toolchain.Versions.load())
    folder = served.root / key
    if not binaries.is_complete(folder):
        return (f"binaries: none built here yet for {key}; learners build their own "
                "(run `make up` here first to serve them)")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    # Hash them now, not when thirty laptops ask at once.
    threading.Thread(target=served.manifest, args=(key,), daemon=True).start()
    return f"binaries: serving {key} ({size:.0f} MB) to learners who join"


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, stuck_minutes: float = 10,
          new_key: bool = False, force_tls: bool = False) -> int:
    import uvicorn

    if procs.port_in_use(port, "127.0.0.1" if host in LOOPBACK else host):
        raise WorkshopError(f"port {port} is taken", fix="choose another: make board PORT=8766")
    room = Room(DB)
    if new_key and room.new_instructor_key is None:
        room.rotate_instructor_key()
    bin_root = paths.CACHE / "bin"
    local = host in LOOPBACK
    shown = "127.0.0.1" if local else (room_address() if host in ("0.0.0.0", "::") else host)
    hosts = [*LOOPBACK_HOSTS] + ([] if local else
                                 [*local_addresses(), shown, host.strip("[]")])
    app = create_app(room, kit=schema.Kit.from_lessons(), stuck_after_s=stuck_minutes * 60,
                     bin_root=bin_root, allowed_hosts=list(dict.fromkeys(hosts)))
    cert = None if local and not force_tls else tls.certificate(DB.parent, [shown])
    scheme = "https" if cert else "http"
    url = f"{scheme}://{_bracketed(shown)}:{port}"
    if local:
        say(f"The board listens on 127.0.0.1:{port} only: learners on other machines cannot "
            "reach it.\n  To open it to the room's network: make board HOST=0.0.0.0")
    else:
        say(f"The board listens on {host}:{port} (HTTPS): anyone on this network can reach "
            "it; every write needs the room code, reading needs the instructor key.")
    pin = f" PIN={cert.fingerprint}" if cert else ""
    print("\nLearners join with:\n"
          f"    make join ROOM={url} CODE={room.code}{pin} NAME='<your name>'\n", flush=True)
    # The instructor's own browser: loopback, unless the board listens on one address only.
    page_host = "127.0.0.1" if local or host in ("0.0.0.0", "::") else _bracketed(shown)
    page = f"{scheme}://{page_host}:{port}/"
    if room.new_instructor_key:
        print("Instructor page (this key is shown only now; keep it private):\n"
              f"    {page}#key={room.new_instructor_key}\n", flush=True)
    else:
        print(f"Instructor page: {page} (the key was shown when the room "
              "was created; `make board NEW_KEY=1` makes a new one)\n", flush=True)
    if cert:
        say("The board's certificate is its own (no authority signs it): your browser warns "
            f"once; its SHA-256 fingerprint is the PIN above ({cert.cert}, kept across "
            "restarts). Learners' `make join` refuses any other certificate.")
    say(describe_binaries(binaries.Served(bin_root)))
    say(f"room data: {DB} (kept across restarts); Ctrl-C stops the board")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                ssl_certfile=str(cert.cert) if cert else None,
                ssl_keyfile=str(cert.key) if cert else None, http=head_timeout_protocol(),
                **SERVER_LIMITS)
    return 0


def _bracketed(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


class InThread:
    """A real uvicorn serving `app` on a free 127.0.0.1 port in a thread (tests, bench)."""

    def __init__(self, app, cert: tls.Certificate | None = None,
                 head_timeout_s: float = HEAD_TIMEOUT_S):
        import uvicorn

        self.port = procs.free_port()
        self.url = f"{'https' if cert else 'http'}://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
            ssl_certfile=str(cert.cert) if cert else None,
            ssl_keyfile=str(cert.key) if cert else None,
            http=head_timeout_protocol(head_timeout_s), **SERVER_LIMITS))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "InThread":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the board's server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
