"""The control plane's lifecycle, through kwokctl's binary runtime.

kwokctl runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the kwok
controller as local processes under `.workshop/kwok/clusters/workshop/`. This module wraps
its few verbs and adds what kwokctl leaves out: checking pids against their command line,
naming the process that holds a needed port, and judging readiness by /readyz (kwokctl's
`--wait` never changes its exit code).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from workshop.k8s import kube
from workshop import paths
from workshop.stack import procs
from workshop.errors import WorkshopError
from workshop.stack.toolchain import Versions

# kwokctl's component name -> the executable name its pid must belong to.
COMPONENTS = {
    "etcd": "etcd",
    "kube-apiserver": "kube-apiserver",
    "kube-controller-manager": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok-controller",  # kwokctl links it under this name
}


def cluster_dir() -> Path:
    return paths.KWOK_WORKDIR / "clusters" / paths.CLUSTER_NAME


def exists() -> bool:
    return (cluster_dir() / "kwok.yaml").exists()


def render_config(bin_dir: Path, versions: Versions) -> str:
    """The kwokctl config for this checkout (pure: unit-tested without a cluster).

    kwok's Stages follow verbatim: their Go templates are full of `$`, which the
    placeholders of the kwokctl template must not touch.
    """
    text = paths.KWOKCTL_TEMPLATE.read_text()
    config = Template(text).substitute(
        bin=str(bin_dir), kube_version=versions.kubernetes,
        cache=str(paths.KWOK_WORKDIR / "cache"),
    )
    return config.rstrip("\n") + "\n---\n" + paths.KWOK_STAGES.read_text()


def _stage_specs(docs: list) -> dict[str, object]:
    """Each Stage's name -> its spec: the template and the delay decide how kwok fakes a
    node or pod, so a change to either must reach a running cluster."""
    return {d["metadata"]["name"]: d.get("spec")
            for d in docs if isinstance(d, dict) and d.get("kind") == "Stage"}


def refresh_stages() -> bool:
    """Give a cluster created before cluster/kwok-stages.yaml changed the current Stages.

    kwokctl copies the Stages into the cluster's kwok.yaml once, at create, and the kwok
    controller reads them from there at start. Rewriting them (and restarting kwok) heals
    an older cluster in place: no learner has to delete theirs. True if kwok.yaml changed.
    """
    path = cluster_dir() / "kwok.yaml"
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise corrupted(f"cannot read {path}: {exc}") from None
    ours = [d for d in yaml.safe_load_all(paths.KWOK_STAGES.read_text()) if d is not None]
    if _stage_specs(docs) == _stage_specs(ours):
        return False
    kept = [d for d in docs if not (isinstance(d, dict) and d.get("kind") == "Stage")]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(kept + ours, sort_keys=False))
    os.replace(tmp, path)
    return True


def _kwokctl(bin_dir: Path, *args: str, timeout_s: float = 300) -> str:
    log = paths.STATE / "kwokctl.log"
    env = dict(os.environ, KWOK_WORKDIR=str(paths.KWOK_WORKDIR))
    # kwokctl would otherwise fall back to docker/podman/nerdctl.
    env["KWOK_RUNTIME"] = "binary"
    argv = [str(bin_dir / "kwokctl"), *args, "--name", paths.CLUSTER_NAME]
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise WorkshopError(f"kwokctl {args[0]} {args[1]} did not finish in {timeout_s:.0f}s",
                            fix=f"see {log}; `make down` then `make up`") from None
    with log.open("a") as fh:
        fh.write(f"\n$ kwokctl {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise WorkshopError(f"kwokctl {args[0]} {args[1]} failed", detail=tail,
                            fix=f"full output in {log}")
    return proc.stdout + proc.stderr


# ---------------------------------------------------------------- state on disk


def kwok_config() -> dict:
    """The stored kwok.yaml (ports are chosen once, at create, and live here)."""
    path = cluster_dir() / "kwok.yaml"
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise corrupted(f"cannot read {path}: {exc}") from None
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "KwokctlConfiguration":
            return doc
    raise corrupted(f"{path} holds no KwokctlConfiguration")


def corrupted(detail: str) -> WorkshopError:
    return WorkshopError(
        "the workshop's cluster state in .workshop/ is damaged",
        fix="run `make clean-cluster` then `make up` to recreate it (your notebooks are untouched)",
        detail=detail,
    )


@dataclass
class Component:
    name: str
    pid: int | None
    running: bool
    ports: list[int]  # the one it serves on first
    uptime_s: float | None
    rss_mib: float

    @property
    def port(self) -> int | None:
        return self.ports[0] if self.ports else None


def _ports(cfg: dict) -> dict[str, list[int]]:
    """Each component's ports, the one it serves on first (etcd's peer port last)."""
    out: dict[str, list[int]] = {}
    for comp in cfg.get("components") or []:
        ports = comp.get("ports") or []
        ports = sorted(ports, key=lambda p: str(p.get("name", "")).startswith("peer"))
        numbers = [int(p.get("hostPort") or p.get("port") or 0) for p in ports]
        out[comp["name"]] = [n for n in numbers if n]
    return out


def components() -> list[Component]:
    if not exists():
        return []
    cfg = kwok_config()
    ports = _ports(cfg)
    result = []
    for name, binary in COMPONENTS.items():
        pid = procs.read_pid(cluster_dir() / "pids" / f"{name}.pid")
        running = procs.is_running(pid, binary)
        result.append(Component(
            name, pid, running, ports.get(name) or [],
            procs.uptime_s(pid) if running and pid else None,
            procs.rss_mib(pid) if running and pid else 0.0,
        ))
    return result


def _ours(proc) -> bool:
    """A process started for THIS cluster: kwokctl passes every component paths inside its
    cluster folder (config, kubeconfig, certificates, etcd's data), and each worktree or
    state folder has its own, while the binaries are shared by all of them."""
    inside = str(cluster_dir()) + os.sep
    try:
        return any(inside in arg for arg in proc.cmdline()[1:])
    except procs.psutil.Error:
        return False


def strays() -> dict[str, list[int]]:
    """Each component's live processes for this cluster that its pid file does not name
    (a concurrent or interrupted `kwokctl start` leaves such)."""
    found: dict[str, list[int]] = {}
    for name, binary in COMPONENTS.items():
        recorded = procs.read_pid(cluster_dir() / "pids" / f"{name}.pid")
        pids = [p.pid for p in procs.find(binary, _ours) if p.pid != recorded]
        if pids:
            found[name] = pids
    return found


def _adopt_strays() -> list[str]:
    """Point a dead component's pid file at its live process, if one runs: it holds the
    component's ports, so starting another would only fail on them."""
    adopted = []
    for name, pids in strays().items():
        pid_file = cluster_dir() / "pids" / f"{name}.pid"
        if procs.is_running(procs.read_pid(pid_file), COMPONENTS[name]):
            continue  # the recorded one runs: the others are surplus, `down` stops them
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(pids[0]))
        adopted.append(name)
    return adopted


def _stop_strays() -> list[str]:
    stopped = []
    for name, pids in strays().items():
        for pid in pids:
            if procs.terminate(pid, COMPONENTS[name]):
                stopped.append(name)
    return stopped


def _clear_stale_pids() -> None:
    """Remove pid files whose pid is dead or belongs to another program.

    kwokctl `stop` SIGKILLs whatever has the pid in the file, and `start` skips a
    component whose pid is merely alive: both go wrong after a reboot reuses pids.
    """
    for name, binary in COMPONENTS.items():
        pid_file = cluster_dir() / "pids" / f"{name}.pid"
        pid = procs.read_pid(pid_file)
        if pid is not None and not procs.is_running(pid, binary):
            pid_file.unlink(missing_ok=True)


def _check_ports(dead: list[Component]) -> None:
    for comp in dead:
        for port in comp.ports:
            if not procs.port_in_use(port):
                continue
            holder = procs.port_holder(port)
            who = f"pid {holder.pid} ({holder.command})" if holder and holder.pid else (
                holder.command if holder else "another program")
            raise WorkshopError(
                f"port {port} on 127.0.0.1, which the cluster's {comp.name} uses, "
                f"is taken by {who}",
                fix="stop that program, or `make clean-cluster` and `make up` to pick new ports",
            )


def _component_log_tail(name: str, lines: int = 8) -> str:
    log = cluster_dir() / "logs" / f"{name}.log"
    try:
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return f"last lines of {log}:\n" + "\n".join(text)


# ---------------------------------------------------------------- lifecycle


def secure_files() -> None:
    """Keys and kubeconfigs readable by their owner only."""
    for pattern in ("pki/*.key", "pki/**/*.key", "kubeconfig*", "*.kubeconfig"):
        for f in cluster_dir().glob(pattern):
            f.chmod(stat.S_IRUSR | stat.S_IWUSR)


def export_kubeconfig() -> Path:
    """Copy kwokctl's kubeconfig to .workshop/kubeconfig (0600) for kubectl, k9s and Lab."""
    src = cluster_dir() / "kubeconfig.yaml"
    if not src.exists():
        raise corrupted(f"{src} is missing")
    dest = paths.KUBECONFIG
    tmp = dest.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(src.read_text())
    os.chmod(tmp, 0o600)
    os.replace(tmp, dest)
    kube.forget_clients()
    return dest


def up(bin_dir: Path, versions: Versions, timeout_s: float = 90) -> str:
    """Create, start or heal the control plane; return what was done."""
    paths.STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.STATE, 0o700)
    action = "running"
    kwok_restarted = False
    if not exists():
        _create(bin_dir, versions, timeout_s)
        return "created"
    else:
        if refresh_stages():
            # kwok reads its Stages only at start: stop it so the start below runs the new ones.
            for comp in components():
                if comp.name == "kwok-controller" and comp.running and comp.pid:
                    procs.terminate(comp.pid, COMPONENTS[comp.name])
        _adopt_strays()
        dead = [c for c in components() if not c.running]
        if dead:
            _clear_stale_pids()
            _check_ports(dead)
            _kwokctl(bin_dir, "start", "cluster", timeout_s=timeout_s)
            action = "started" if len(dead) == len(COMPONENTS) else \
                "restarted " + ", ".join(c.name for c in dead)
            kwok_restarted = any(c.name == "kwok-controller" for c in dead)
    secure_files()
    export_kubeconfig()
    _wait_ready(timeout_s)
    if kwok_restarted:
        _release_node_leases()
    return action


def _create(bin_dir: Path, versions: Versions, timeout_s: float, attempts: int = 3) -> None:
    """Create the cluster; pick new ports if another program bound one meanwhile.

    kwokctl picks free ports at create but binds them only as each process starts, so a
    program (or a second workshop cluster) created at the same moment can take one first.
    Nothing is in a new cluster yet: creating it again, with ports picked anew, heals it.
    """
    for attempt in range(1, attempts + 1):
        if cluster_dir().exists():  # a half-created cluster: start over
            delete(bin_dir)
        cfg = paths.STATE / "kwokctl.yaml"
        cfg.write_text(render_config(bin_dir, versions))
        _kwokctl(bin_dir, "create", "cluster", "--config", str(cfg), "--runtime", "binary",
                 "--kubeconfig", "", "--wait", "0s", timeout_s=timeout_s + 120)
        secure_files()
        export_kubeconfig()
        try:
            _wait_ready(timeout_s)
            return
        except WorkshopError as exc:
            if attempt == attempts or "address already in use" not in exc.detail:
                raise


def _release_node_leases() -> None:
    """Let a restarted kwok controller take over the nodes that already exist.

    kwok only drives the nodes whose lease it holds; after a restart the old leases still
    name the previous process (valid 200 s), so pods bound to existing nodes would stay
    Pending for minutes. The new controller re-creates every lease at once.
    """
    kube.delete_all("coordination.k8s.io/v1", "Lease", "kube-node-lease")


def _wait_ready(timeout_s: float) -> None:
    """Wait for /readyz with every component alive; a component that dies meanwhile is
    reported with its log tail (e.g. a port another program took while we were stopped)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        dead = [c for c in components() if not c.running]
        # kwokctl starts every process at once: one that is gone after a moment has died.
        if dead and time.monotonic() - start > 2:
            comp = dead[0]
            _raise_if_port_taken(comp)
            raise WorkshopError(
                f"the cluster's {comp.name} stopped right after starting",
                detail=_component_log_tail(comp.name),
                fix="read the log lines above, then `make up` again",
            )
        if not dead and kube.ready():
            return
        time.sleep(0.2)
    raise WorkshopError(
        f"the API server did not become ready within {timeout_s:.0f}s",
        detail=_component_log_tail("kube-apiserver"),
        fix="`make status` shows which part is down; `make down` then `make up` restarts it",
    )


def _raise_if_port_taken(comp: Component) -> None:
    """A component that died because another program bound its port between the check and
    the start (e.g. a second workshop cluster being created): name that program."""
    found = re.search(r"listen tcp [\d.]*:(\d+): bind: address already in use",
                      _component_log_tail(comp.name, lines=3))
    if not found:
        return
    port = int(found.group(1))
    holder = procs.port_holder(port)
    who = f"pid {holder.pid} ({holder.command})" if holder and holder.pid else "another program"
    raise WorkshopError(
        f"the cluster's {comp.name} could not start: port {port} is taken by {who}",
        detail=_component_log_tail(comp.name, lines=1),
        fix="stop that program and `make up` again, or `make clean-cluster` and `make up` "
        "to pick new ports",
    )


def down(bin_dir: Path) -> bool:
    """Stop every control-plane process; data stays for the next `up`."""
    if not exists():
        return False
    _clear_stale_pids()
    if any(c.running for c in components()):
        _kwokctl(bin_dir, "stop", "cluster")
    _stop_strays()  # ones no pid file names: kwokctl stop never sees them
    return True


def delete(bin_dir: Path | None) -> bool:
    if not cluster_dir().exists():
        return False
    if bin_dir and (bin_dir / "kwokctl").exists() and exists():
        _clear_stale_pids()
        try:
            _kwokctl(bin_dir, "delete", "cluster")
        except WorkshopError:
            pass  # fall through to removing the folder ourselves
    for comp in components() if exists() else []:
        if comp.running and comp.pid:
            procs.terminate(comp.pid, COMPONENTS[comp.name])
    _stop_strays()
    shutil.rmtree(cluster_dir(), ignore_errors=True)
    paths.KUBECONFIG.unlink(missing_ok=True)
    return True
