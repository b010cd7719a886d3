"""`make board`: open (or reopen) the room, print the join line, serve until Ctrl-C."""

from __future__ import annotations

import ipaddress
import threading
import time

from workshop import paths
from workshop.stack import procs, toolchain
from workshop.errors import WorkshopError
from workshop.progress import say
from workshop.board import binaries
from workshop.board.app import create_app
from workshop.board.store import Room

DEFAULT_PORT = 8765
DB = paths.STATE / "board" / "room.sqlite"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def kit_exercises() -> list[str]:
    """Every exercise the kit has: the grid's columns before anyone reports."""
    from workshop.grading import core as grading

    ids = []
    for n in grading.lesson_numbers():
        try:
            ids += [ex.id for ex in grading.get_lesson(n).exercises]
        except Exception:  # a broken lesson module must not keep the board from starting
            continue
    return ids


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
          new_key: bool = False) -> int:
    import uvicorn

    if procs.port_in_use(port, "127.0.0.1" if host in LOOPBACK else host):
        raise WorkshopError(f"port {port} is taken", fix="choose another: make board PORT=8766")
    room = Room(DB)
    if new_key and room.new_instructor_key is None:
        room.rotate_instructor_key()
    bin_root = paths.CACHE / "bin"
    app = create_app(room, exercises=kit_exercises(), stuck_after_s=stuck_minutes * 60,
                     bin_root=bin_root)
    local = host in LOOPBACK
    shown = "127.0.0.1" if local else (room_address() if host in ("0.0.0.0", "::") else host)
    url = f"http://{shown}:{port}"
    if local:
        say(f"The board listens on 127.0.0.1:{port} only: learners on other machines cannot "
            "reach it.\n  To open it to the room's network: make board HOST=0.0.0.0")
    else:
        say(f"The board listens on {host}:{port}: anyone on this network can reach it; "
            "every write needs the room code, reading needs the instructor key.")
    print("\nLearners join with:\n"
          f"    make join ROOM={url} CODE={room.code} NAME='<your name>'\n", flush=True)
    if room.new_instructor_key:
        print("Instructor page (this key is shown only now; keep it private):\n"
              f"    http://127.0.0.1:{port}/#key={room.new_instructor_key}\n", flush=True)
    else:
        print(f"Instructor page: http://127.0.0.1:{port}/ (the key was shown when the room "
              "was created; `make board NEW_KEY=1` makes a new one)\n", flush=True)
    say(describe_binaries(binaries.Served(bin_root)))
    say(f"room data: {DB} (kept across restarts); Ctrl-C stops the board")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                proxy_headers=False, server_header=False)
    return 0


class InThread:
    """A real uvicorn serving `app` on a free 127.0.0.1 port in a thread (tests, bench)."""

    def __init__(self, app):
        import uvicorn

        self.port = procs.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
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
