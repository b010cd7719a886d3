"""The instructor's built binaries, served by the board and fetched by a learner who joined.

Both sides key them by toolchain.cache_key (the pinned versions and the build recipe), so
a learner only ever gets binaries built from exactly the versions their checkout pins.
The learner takes only the files the repo's lock lists, each checked against the lock's
size and sha256 (never the board's word) before anything takes its place; a file the
learner already has is never replaced: a bad or broken download leaves the local cache as
it was, and `make up` builds locally instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path
from urllib.parse import quote

from workshop.board import net, room
from workshop.stack import binlock, toolchain
from workshop.progress import say

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
CHUNK = 1 << 20


def is_complete(folder: Path) -> bool:
    """Only a finished cache is served: every binary and the CRDs (what `missing` checks)."""
    return all((folder / n).is_file() for n in toolchain.REQUIRED) and \
        (folder / "crds" / "karpenter.sh_nodepools.yaml").is_file()


class Served:
    """The board's side: manifests of bin/<key>/ folders, hashed once and remembered."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple, dict]] = {}
        self._lock = threading.Lock()

    def manifest(self, key: str) -> dict | None:
        if not KEY.match(key):
            return None
        folder = self.root / key
        if not folder.is_dir() or not is_complete(folder):
            return None
        files = [folder / name for name in binlock.files_of(folder)]
        stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
        with self._lock:  # one hashing pass even when the whole room asks at once
            cached = self._cache.get(key)
            if cached and cached[0] == stamp:
                return cached[1]
            manifest = {"key": key, "files": [
                {"name": p.relative_to(folder).as_posix(), "size": p.stat().st_size,
                 "sha256": binlock.sha256_of(p), "mode": p.stat().st_mode & 0o755}
                for p in files]}
            self._cache[key] = (stamp, manifest)
            return manifest

    def file(self, key: str, name: str) -> Path | None:
        manifest = self.manifest(key)
        if manifest is None or name not in {f["name"] for f in manifest["files"]}:
            return None  # only what the manifest lists: no path tricks
        return self.root / key / name


# ---------------------------------------------------------------- the learner's side
#
# The board is not trusted: a rogue one on the room's network, or anyone between it and the
# learner on plain HTTP, could serve anything and announce any hash. So the learner asks only
# for the files the repo's lock (cluster/binaries.lock.toml, via toolchain's hook) lists for
# this platform, reads each up to the lock's size and no further, and installs nothing unless
# every one matches the lock's sha256. The board's own manifest is never read for names,
# sizes, hashes or modes.


def _get(url: str, code: str, timeout: float, pin: str | None = None):
    """The board's answer (200 only; else HTTPError) through net.request: the pinned
    certificate on the room's network, no redirects."""
    answer = net.request("GET", url, pin=pin, headers={"X-Room-Code": code}, timeout=timeout)
    if answer.status != 200:
        answer.close()
        raise urllib.error.HTTPError(url, answer.status, "refused", answer.headers, None)
    return answer


def _progress(done: int, total: int, started: float, final: bool = False) -> None:
    mb, total_mb = done / 2**20, total / 2**20
    rate = mb / max(time.monotonic() - started, 1e-3)
    line = f"  from the room: {mb:.0f}/{total_mb:.0f} MB ({rate:.0f} MB/s)"
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line + ("\n" if final else ""))
        sys.stderr.flush()
    elif final:
        say(line)


class Refused(Exception):
    """A file from the board did not match the lock."""


def _inside(root: Path, name: str) -> Path:
    """root/name, refusing any name that would land outside root."""
    if not _safe_name(name):
        raise Refused(f"{name!r} is not a plain relative path")
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise Refused(f"{name!r} points outside the cache")
    return path


def _download(resp, out, want: binlock.Expected, on_bytes) -> str:
    """Copy at most want.size bytes to `out`; the sha256 of what came. Refuses a body that
    is longer than the lock's size the moment it is."""
    h = hashlib.sha256()
    got = 0
    while True:
        block = resp.read(min(CHUNK, want.size - got + 1))
        if not block:
            break
        got += len(block)
        if got > want.size:
            raise Refused(f"{want.name} is larger than the lock's {want.size} bytes")
        h.update(block)
        out.write(block)
        on_bytes(len(block))
    if got != want.size:
        raise Refused(f"{want.name} is {got} bytes, the lock says {want.size}")
    return h.hexdigest()


def fetch(base: str, code: str, key: str, dest: Path, want: dict[str, binlock.Expected],
          timeout: float = 5, pin: str | None = None) -> bool:
    """Fill in what `dest` lacks from the room's board, taking only the files `want` (the
    lock) lists, each installed only if its size and sha256 match. Everything lands in a
    temporary folder inside the cache first and is renamed into `dest` only after every
    file checked out. True when `dest` now has every file of `want`; False (nothing
    changed) otherwise."""
    try:
        todo = [want[n] for n in sorted(want) if not _inside(dest, n).exists()]
    except Refused as exc:  # the lock is the repo's; a bad name in it is a broken checkout
        say(f"  not fetching from the room: the lock names {exc}")
        return False
    if not todo:
        return True
    try:  # does the board serve this key at all? (its manifest's contents are not used)
        with _get(f"{base}/bin/{quote(key)}/manifest", code, timeout, pin):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            say(f"  the room's board refused its binaries ({exc.code}); building locally")
        return False
    except (OSError, ValueError) as exc:
        say(f"  the room's board did not answer ({net.shown(exc, 200)}); building locally")
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.download-", dir=dest.parent))
    total, started = sum(e.size for e in todo), time.monotonic()
    done = 0

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        _progress(done, total, started)

    say(f"Fetching the cluster's binaries from the room's board ({total / 2**20:.0f} MB) "
        "instead of building them; each is checked against cluster/binaries.lock.toml")
    try:
        for e in todo:
            part = _inside(staging, e.name)
            part.parent.mkdir(parents=True, exist_ok=True)
            with _get(f"{base}/bin/{quote(key)}/files/{quote(e.name)}", code, timeout,
                      pin) as resp, \
                    part.open("wb") as out:
                digest = _download(resp, out, e, on_bytes)
            if digest != e.sha256:
                raise Refused(f"{e.name} does not match the lock's sha256")
            # Modes are the kit's, never the board's: programs run, CRDs are read.
            part.chmod(0o755 if e.name in toolchain.REQUIRED else 0o644)
        _progress(done, total, started, final=True)
        # Every file checked: now move them in, never over a file that is already there.
        for e in todo:
            target = _inside(dest, e.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.replace(_inside(staging, e.name), target)
        return True
    except Refused as exc:
        say(f"\n  the room's binaries do not match the repo: {exc}; building locally")
        return False
    except (OSError, ValueError) as exc:
        say(f"\n  fetching from the room failed ({net.shown(exc, 200)}); building locally")
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_name(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and "\\" not in name and \
        all(p not in ("", ".", "..") for p in parts)


def fetch_for_build(key: str, dest: Path, want: dict[str, binlock.Expected]) -> bool:
    """toolchain.ensure_built's hook (wired by workshop/board/wiring.py): fetch the lock's
    files `want` from the joined room, if any."""
    link = room.load()
    if link is None:
        return False
    return fetch(link["room"], link["code"], key, dest, want, pin=link.get("pin"))
