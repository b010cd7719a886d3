"""The instructor's built binaries, served by the board and fetched by a learner who joined.

Both sides key them by toolchain.cache_key (the pinned versions and the build recipe), so
a learner only ever gets binaries built from exactly the versions their checkout pins.
Every file is checked against the manifest's sha256 before it takes its place, each file
lands atomically, and a file the learner already has is never replaced: a bad or broken
download leaves the local cache as it was, and `make up` builds locally instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
from pathlib import Path
from urllib.parse import quote

from workshop.board import net, room
from workshop.stack import toolchain
from workshop.progress import say

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


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

    def _files(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*")
                      if p.is_file() and not any(part.startswith(".")
                                                 for part in p.relative_to(folder).parts))

    def manifest(self, key: str) -> dict | None:
        if not KEY.match(key):
            return None
        folder = self.root / key
        if not folder.is_dir() or not is_complete(folder):
            return None
        files = self._files(folder)
        stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
        with self._lock:  # one hashing pass even when the whole room asks at once
            cached = self._cache.get(key)
            if cached and cached[0] == stamp:
                return cached[1]
            manifest = {"key": key, "files": [
                {"name": p.relative_to(folder).as_posix(), "size": p.stat().st_size,
                 "sha256": _sha256(p), "mode": p.stat().st_mode & 0o755}
                for p in files]}
            self._cache[key] = (stamp, manifest)
            return manifest

    def file(self, key: str, name: str) -> Path | None:
        manifest = self.manifest(key)
        if manifest is None or name not in {f["name"] for f in manifest["files"]}:
            return None  # only what the manifest lists: no path tricks
        return self.root / key / name


# ---------------------------------------------------------------- the learner's side


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


def fetch(base: str, code: str, key: str, dest: Path, timeout: float = 5,
          pin: str | None = None) -> bool:
    """Fill in what `dest` lacks from the room's board. True when it served this key and
    every file it sent matched its sha256; False (nothing changed) otherwise."""
    try:
        with _get(f"{base}/bin/{quote(key)}/manifest", code, timeout, pin) as resp:
            manifest = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            say(f"  the room's board refused its binaries ({exc.code}); building locally")
        return False
    except (OSError, ValueError) as exc:
        say(f"  the room's board did not answer ({exc}); building locally")
        return False
    wanted = [f for f in manifest.get("files", [])
              if isinstance(f, dict) and _safe_name(f.get("name", ""))
              and not (dest / f["name"]).exists()]
    if not wanted:
        return True
    staging = dest.parent / f".{key}.download"
    shutil.rmtree(staging, ignore_errors=True)
    total, done, started = sum(int(f["size"]) for f in wanted), 0, time.monotonic()
    say(f"Fetching the cluster's binaries from the room's board ({total / 2**20:.0f} MB) "
        "instead of building them")
    try:
        for f in wanted:
            part = staging / f["name"]
            part.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            with _get(f"{base}/bin/{quote(key)}/files/{quote(f['name'])}", code, timeout,
                      pin) as resp, \
                    part.open("wb") as out:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    h.update(block)
                    out.write(block)
                    done += len(block)
                    _progress(done, total, started)
            if h.hexdigest() != f["sha256"] or part.stat().st_size != int(f["size"]):
                say(f"\n  {f['name']} from the room does not match its sha256; building locally")
                return False
            part.chmod(int(f.get("mode", 0o644)) & 0o755)
        _progress(done, total, started, final=True)
        # Every file checked: now move them in, never over a file that is already there.
        for f in wanted:
            target = dest / f["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.replace(staging / f["name"], target)
        return True
    except (OSError, ValueError) as exc:
        say(f"\n  fetching from the room failed ({exc}); building locally")
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_name(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..")
                                                           for p in parts)


def fetch_for_build(key: str, dest: Path) -> bool:
    """toolchain.ensure_built's hook (wired by workshop/board/wiring.py): fetch from the
    joined room, if any."""
    link = room.load()
    if link is None:
        return False
    dest.mkdir(parents=True, exist_ok=True)
    return fetch(link["room"], link["code"], key, dest, pin=link.get("pin"))
