"""A rogue board: a plain HTTP server in this test that lies in every way a board can.

It serves a tampered kubectl whose manifest entry carries the tampered file's own sha256,
extra files (dot files, a script, a CRD, a deep path, a path out of the cache), and a file
far larger than it declares. The learner trusts the repo's lock only: nothing of it is
installed, nothing lands anywhere, and the oversized download stops at the lock's size.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from workshop.board import binaries
from workshop.stack import binlock, toolchain

KEY = toolchain.cache_key(toolchain.Versions.load())
CODE = "ABCD-EFGH"
EXTRAS = [".bashrc", "evil.sh", "crds/evil.yaml", "sub/dir/deep.bin", "../outside.sh"]
OVERSIZED = "crds/karpenter.sh_nodepools.yaml"
OVERSIZED_BYTES = 64 * 2**20  # what the rogue board tries to push
TAMPERED = b"#!/bin/sh\necho pwned > /tmp/pwned\n"


def genuine(name: str) -> bytes:
    """The 'real' contents of each file in these tests (what the test lock pins)."""
    return f"genuine {name}\n".encode() * 50


class RogueBoard:
    """Serves /bin/<key>/manifest and /bin/<key>/files/<name> like a board, lying as told."""

    def __init__(self, attack: str, names: list[str]):
        self.attack, self.names = attack, names
        self.requested: list[str] = []
        self.oversized_sent = 0
        self.oversized_finished = False
        board = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.headers.get("X-Room-Code") != CODE:
                    return self.send_error(403)
                prefix = f"/bin/{KEY}/"
                if not self.path.startswith(prefix):
                    return self.send_error(404)
                rest = unquote(self.path[len(prefix):])
                if rest == "manifest":
                    return self._send(json.dumps(board.manifest()).encode())
                name = rest.removeprefix("files/")
                board.requested.append(name)
                if board.attack == "oversized" and name == OVERSIZED:
                    return self._flood()
                return self._send(board.content(name))

            def _send(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _flood(self):
                # No Content-Length: the body ends when the server closes, as a hostile one may.
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                block = b"x" * (1 << 16)
                try:
                    while board.oversized_sent < OVERSIZED_BYTES:
                        self.wfile.write(block)
                        board.oversized_sent += len(block)
                    board.oversized_finished = True
                except OSError:  # the learner hung up: what we want
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def content(self, name: str) -> bytes:
        if name == "kubectl" and self.attack == "tampered":
            return TAMPERED
        if name in EXTRAS:
            return b"#!/bin/sh\nrm -rf ~\n"
        return genuine(name)

    def manifest(self) -> dict:
        """What the board claims: its own (self-consistent) hashes, sizes and modes."""
        files = []
        for name in self.names + (EXTRAS if self.attack == "extra" else []):
            body = self.content(name)
            files.append({"name": name, "size": 4096 if name == OVERSIZED else len(body),
                          "sha256": hashlib.sha256(body).hexdigest(), "mode": 0o4777})
        return {"key": KEY, "files": files}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def lock_for(names: list[str]) -> dict[str, binlock.Expected]:
    return {n: binlock.Expected(n, len(genuine(n)), hashlib.sha256(genuine(n)).hexdigest())
            for n in names}


def every_file(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


NAMES = [*toolchain.REQUIRED, *(f"crds/{c}" for c in toolchain.CRD_SOURCES)]


@pytest.mark.parametrize("attack", ["tampered", "oversized"])
def test_a_rogue_boards_files_are_never_installed_or_written(tmp_path, attack):
    cache = tmp_path / "cache"
    dest = cache / "bin" / KEY
    dest.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    before = every_file(tmp_path)
    with RogueBoard(attack, NAMES) as board:
        assert not binaries.fetch(board.url, CODE, KEY, dest, lock_for(NAMES))
    assert every_file(tmp_path) == before  # nothing installed, nothing left half-written
    if attack == "oversized":
        assert OVERSIZED in board.requested
        # The learner stopped reading at the lock's size and hung up: the board could not
        # push its 64 MiB (only what the socket buffers took before the close).
        assert not board.oversized_finished and board.oversized_sent < OVERSIZED_BYTES
    else:
        assert "kubectl" in board.requested


def test_only_the_locks_files_are_asked_for_and_written(tmp_path):
    cache = tmp_path / "cache"
    dest = cache / "bin" / KEY
    with RogueBoard("extra", NAMES) as board:
        assert binaries.fetch(board.url, CODE, KEY, dest, lock_for(NAMES))
    assert sorted(board.requested) == sorted(NAMES)  # the manifest's extras never fetched
    assert all(p == "cache" or p.startswith("cache/") for p in every_file(tmp_path))
    assert {p for p in every_file(dest) if (dest / p).is_file()} == set(NAMES)
    for name in NAMES:  # modes are the kit's, not the board's 0o4777
        mode = (dest / name).stat().st_mode & 0o7777
        assert mode == (0o755 if name in toolchain.REQUIRED else 0o644), name


def test_the_repos_lock_refuses_what_a_board_made_up(tmp_path):
    """Through the hook the build uses, with the lock this checkout commits."""
    want, why_not = binlock.expected(KEY)
    if want is None:
        pytest.skip(f"no committed hashes for this machine: {why_not}")
    dest = tmp_path / "cache" / "bin" / KEY
    before = every_file(tmp_path)
    with RogueBoard("tampered", sorted(want)) as board:
        assert not binaries.fetch(board.url, CODE, KEY, dest, want)
    assert every_file(tmp_path) <= before | {"cache", "cache/bin"}
    assert not dest.exists() or not any(dest.iterdir())


def test_a_lock_name_that_leaves_the_cache_is_refused(tmp_path):
    dest = tmp_path / "cache" / "bin" / KEY
    bad = {"../../escape": binlock.Expected("../../escape", 10, "0" * 64)}
    with RogueBoard("extra", ["../../escape"]) as board:
        assert not binaries.fetch(board.url, CODE, KEY, dest, bad)
        assert board.requested == []
    assert not (tmp_path / "escape").exists()
