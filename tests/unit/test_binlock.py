"""The binaries' lock and the reproducible recipe: pure functions and small folders, no Go run.
(That a real build matches the lock is tests/integration/test_0_binaries_lock.py.)"""

from __future__ import annotations

import hashlib

import pytest

from workshop import paths
from workshop.errors import WorkshopError
from workshop.stack import binlock, toolchain

V = toolchain.Versions.load()
KEY = toolchain.cache_key(V)


def folder_with(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_the_committed_lock_is_for_the_pinned_versions_and_recipe():
    lock = binlock.load()
    assert lock is not None, "cluster/binaries.lock.toml is missing"
    assert lock.key == KEY, "versions or recipe changed: run `workshop lock-binaries`"
    assert set(lock.platforms) <= set(binlock.PLATFORMS)
    names = {*toolchain.REQUIRED, *(f"crds/{c}" for c in toolchain.CRD_SOURCES)}
    for plat, files in lock.platforms.items():
        assert set(files) == names, plat  # every file the cache serves, nothing else
        assert all(len(e.sha256) == 64 and e.size > 0 for e in files.values())
    # The CRDs are copied, not built: the same bytes on every platform.
    crds = {plat: {n: e for n, e in files.items() if n.startswith("crds/")}
            for plat, files in lock.platforms.items()}
    assert len({tuple(sorted(c.items())) for c in crds.values()}) == 1


def test_lock_round_trips_and_keeps_other_platforms(tmp_path):
    lock = tmp_path / "lock.toml"
    a = folder_with(tmp_path / "a", {"etcd": b"etcd-a", "crds/x.yaml": b"kind: X\n"})
    b = folder_with(tmp_path / "b", {"etcd": b"etcd-b", "crds/x.yaml": b"kind: X\n"})
    binlock.record("k1", "linux/amd64", a, lock)
    binlock.record("k1", "darwin/arm64", b, lock)
    want, why = binlock.expected("k1", "darwin/arm64", lock)
    assert why == "" and want["etcd"].sha256 == hashlib.sha256(b"etcd-b").hexdigest()
    assert binlock.expected("k1", "linux/amd64", lock)[0]["etcd"].size == 6
    # A new key starts over: hashes for other versions are never mixed in.
    binlock.record("k2", "linux/amd64", a, lock)
    assert binlock.expected("k2", "darwin/arm64", lock) == (None, f"{lock.name} has no hashes for darwin/arm64")
    assert "is for k2, not k1" in binlock.expected("k1", "linux/amd64", lock)[1]
    assert binlock.expected("k1", path=tmp_path / "none.toml")[0] is None


def test_compare_names_every_difference(tmp_path):
    folder = folder_with(tmp_path / "f", {"etcd": b"tampered", "extra.sh": b"x",
                                          ".verified": b"hidden stamps are not files of the cache"})
    want = {"etcd": binlock.Expected("etcd", 4, hashlib.sha256(b"good").hexdigest()),
            "kubectl": binlock.Expected("kubectl", 3, "0" * 64)}
    found = {m.name: m.found for m in binlock.compare(folder, want)}
    assert found == {"etcd": f"8 bytes, sha256 {hashlib.sha256(b'tampered').hexdigest()[:12]}…",
                     "extra.sh": "extra", "kubectl": "missing"}


def test_a_build_that_differs_from_the_lock_is_an_error_with_a_fix(tmp_path):
    folder = folder_with(tmp_path / "f", {"etcd": b"mine"})
    want = {"etcd": binlock.Expected("etcd", 4, hashlib.sha256(b"good").hexdigest())}
    with pytest.raises(WorkshopError) as err:
        toolchain.verify(folder, want, "", "linux/amd64")
    assert "do not match cluster/binaries.lock.toml" in err.value.message
    assert "etcd" in err.value.detail and "make clean-cache" in err.value.fix
    assert not (folder / ".verified").exists()
    (folder / "etcd").write_bytes(b"good")
    toolchain.verify(folder, want, "", "linux/amd64")
    assert (folder / ".verified").read_text() == binlock.stamp_for(want)


def test_go_env_drops_settings_that_change_the_bytes(monkeypatch):
    for name, value in {"GOAMD64": "v3", "GOFLAGS": "-ldflags=-X=main.x=1", "GOEXPERIMENT": "x",
                        "GOOS": "windows", "CGO_ENABLED": "1", "GOROOT": "/elsewhere",
                        "GOPROXY": "https://proxy.corp", "GONOSUMDB": "corp.example"}.items():
        monkeypatch.setenv(name, value)
    env = toolchain.go_env()
    assert (env["GOAMD64"], env["GOFLAGS"], env["CGO_ENABLED"], env["GOENV"]) == \
        ("v1", "-modcacherw", "0", "off")
    assert not {"GOEXPERIMENT", "GOOS", "GOARCH", "GOROOT"} & set(env)
    assert env["GOPROXY"] == "https://proxy.corp" and env["GONOSUMDB"] == "corp.example"
    cross = toolchain.go_env("darwin/arm64")
    assert (cross["GOOS"], cross["GOARCH"]) == ("darwin", "arm64")


def test_every_target_is_built_without_paths_vcs_or_clock():
    for t in toolchain.targets(V, paths.CACHE / "work"):
        argv = t.steps[0]
        assert "-trimpath" in argv and "-buildvcs=false" in argv, t.name
        ldflags = argv[argv.index("-ldflags") + 1]
        assert ldflags.startswith("-s -w"), t.name
    kubectl = next(t for t in toolchain.targets(V, paths.CACHE / "work") if t.name == "kubectl")
    flags = kubectl.steps[0][kubectl.steps[0].index("-ldflags") + 1]
    assert "version.buildDate=1970-01-01T00:00:00Z" in flags
    assert "version.gitTreeState=clean" in flags


def test_host_platform_is_named_as_go_names_it(monkeypatch):
    monkeypatch.setattr(binlock._platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(binlock.sys, "platform", "linux")
    assert binlock.host_platform() == "linux/arm64"
    monkeypatch.setattr(binlock._platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(binlock.sys, "platform", "darwin")
    assert binlock.host_platform() == "darwin/amd64"
