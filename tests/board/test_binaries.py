"""The instructor's binaries, served by a real board on loopback and fetched against the
lock: a learner skips the build, and a bad download never touches a good local cache.
(The fake cache here stands in for a real build, so each test's lock is made from it.)"""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from board_helpers import KIT, LiveBoard

from workshop import paths
from workshop.stack import binlock, toolchain
from workshop.board import binaries, room, wiring
from workshop.board.app import create_app
from workshop.board.store import Room

KEY = toolchain.cache_key(toolchain.Versions.load())


def fake_cache(root, key=KEY):
    """A complete bin/<key>/ folder: every required name, small made-up contents."""
    folder = root / key
    (folder / "crds").mkdir(parents=True)
    for name in toolchain.REQUIRED:
        (folder / name).write_bytes(f"#!/bin/sh\necho {name}\n".encode() * 1000)
        (folder / name).chmod(0o755)
    for crd in toolchain.CRD_SOURCES:
        (folder / "crds" / crd).write_text(f"kind: CustomResourceDefinition # {crd}\n")
    return folder


@pytest.fixture
def serving(tmp_path):
    """(board URL, room code, served folder): a real board serving a fake cache."""
    served = fake_cache(tmp_path / "instructor-bin")
    r = Room(tmp_path / "room.sqlite")
    board = LiveBoard(create_app(r, kit=KIT, bin_root=tmp_path / "instructor-bin"))
    board.start()
    yield board.url, r.code, served
    board.stop()
    r.close()


def test_manifest_lists_only_a_complete_cache(tmp_path):
    served = binaries.Served(tmp_path)
    folder = fake_cache(tmp_path)
    manifest = served.manifest(KEY)
    names = {f["name"]: f for f in manifest["files"]}
    assert "kube-apiserver" in names and "crds/karpenter.sh_nodepools.yaml" in names
    assert names["etcd"]["sha256"] == hashlib.sha256((folder / "etcd").read_bytes()).hexdigest()
    assert served.file(KEY, "../../etc/passwd") is None
    (folder / "kubectl").unlink()
    assert served.manifest(KEY) is None  # half a cache is never served
    assert served.manifest("../bin") is None


def test_a_joined_learner_fetches_instead_of_building(serving, tmp_path, capsys):
    url, code, served = serving
    dest = tmp_path / "learner-cache" / KEY
    assert binaries.fetch(url, code, KEY, dest, binlock.measure(served))
    for f in served.rglob("*"):
        if f.is_file():
            got = dest / f.relative_to(served)
            assert got.read_bytes() == f.read_bytes()
            assert stat.S_IMODE(got.stat().st_mode) == stat.S_IMODE(f.stat().st_mode)
    assert "from the room:" in capsys.readouterr().err  # progress shown
    assert not list(dest.parent.glob(".*download*"))


def test_wrong_code_or_unknown_key_builds_locally(serving, tmp_path):
    url, code, served = serving
    want = binlock.measure(served)
    dest = tmp_path / "learner-cache" / KEY
    assert not binaries.fetch(url, "WRONG-CODE", KEY, dest, want)
    assert not binaries.fetch(url, code, "k8s-other-version", dest, want)
    assert not binaries.fetch("http://127.0.0.1:9", code, KEY, dest, want)
    assert not dest.exists() or not any(dest.iterdir())


def test_a_bad_download_never_replaces_a_good_local_file(serving, tmp_path):
    url, code, served = serving
    want = binlock.measure(served)
    dest = tmp_path / "learner-cache" / KEY
    dest.mkdir(parents=True)
    (dest / "etcd").write_bytes(b"my own good etcd")
    genuine = (served / "kwok").read_bytes()
    (served / "kwok").write_bytes(genuine.replace(b"echo", b"ECHO"))  # same size, other bytes
    assert not binaries.fetch(url, code, KEY, dest, want)
    assert sorted(p.name for p in dest.iterdir()) == ["etcd"]  # nothing half-fetched moved in
    assert (dest / "etcd").read_bytes() == b"my own good etcd"
    (served / "kwok").write_bytes(genuine)
    assert binaries.fetch(url, code, KEY, dest, want)  # fills in the rest, keeps ours
    assert (dest / "etcd").read_bytes() == b"my own good etcd"
    assert (dest / "kwok").read_bytes() == genuine


def test_ensure_built_fetches_from_the_joined_room(serving, tmp_path, monkeypatch):
    url, code, served = serving
    state = tmp_path / "state"
    lock = tmp_path / "binaries.lock.toml"
    binlock.record(KEY, binlock.host_platform(), served, lock)  # the served cache is "the repo's"
    monkeypatch.setattr(binlock, "LOCK_FILE", lock)
    monkeypatch.setattr(paths, "CACHE", tmp_path / "empty-cache")
    monkeypatch.setattr(paths, "STATE", state)
    monkeypatch.setattr(paths, "BIN_LINK", state / "bin")
    monkeypatch.setattr(room, "LINK", state / "room.json")
    monkeypatch.setattr(toolchain, "build_one", lambda *a: pytest.fail("built instead"))
    wiring.connect()  # as every CLI command and the notebook surface do
    room.join(url, code, "Ada")
    dest = toolchain.ensure_built()
    assert toolchain.missing() == [] and dest == toolchain.bin_dir()
    assert os.readlink(state / "bin") == str(dest)
    assert (dest / ".verified").is_file()  # checked against the lock once, remembered
