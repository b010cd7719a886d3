"""kwokctl config rendering and YAML parsing: the learner-facing error messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from workshop.stack import cluster, procs, toolchain
from workshop.k8s import kube
from workshop import paths
from workshop.errors import WorkshopError


def test_kwokctl_config_is_loopback_binary_runtime_with_our_binaries(tmp_path):
    text = cluster.render_config(tmp_path / "bin", toolchain.Versions.load())
    cfg, *docs = yaml.safe_load_all(text)
    stages = [d for d in docs if d["kind"] == "Stage"]
    opts = cfg["options"]
    assert cfg["kind"] == "KwokctlConfiguration"
    assert opts["runtime"] == "binary" and opts["bindAddress"] == "127.0.0.1"
    assert opts["kubeVersion"] == "v1.35.1"
    for key in ("kubeBinaryPrefix", "kubectlBinary", "etcdBinary", "kwokControllerBinary"):
        assert str(opts[key]).startswith(str(tmp_path / "bin")), key
    assert "$" not in text.split("\n---\n")[0]  # every placeholder filled
    # kwokctl drops its default Stages when the config has any: all of them must be here.
    assert [s["metadata"]["name"] for s in stages] == [
        "node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"]


def test_kwok_configuration_spells_out_every_parallelism(tmp_path):
    """kwokctl copies a KwokConfiguration into the cluster without kwok's defaults, and
    kwok refuses to start with a parallelism of 0 (a field left out)."""
    text = cluster.render_config(tmp_path / "bin", toolchain.Versions.load())
    kwok = [d for d in yaml.safe_load_all(text) if d["kind"] == "KwokConfiguration"]
    assert len(kwok) == 1
    opts = kwok[0]["options"]
    for key in ("podPlayStageParallelism", "nodePlayStageParallelism", "nodeLeaseParallelism",
                "podsOnNodeSyncParallelism"):
        assert int(opts[key]) > 0, key
    assert opts["cidr"] and opts["enablePodsOnNodeSyncListPager"] is True


def test_stages_are_kwoks_defaults_but_node_capacity(tmp_path):
    """Only node-initialize's capacity differs from the pinned kwok's own defaults."""
    kwok = toolchain.Versions.load().kwok
    src = Path(toolchain.go_env()["GOMODCACHE"]) / f"sigs.k8s.io/kwok@{kwok}/kustomize/stage"
    if not src.is_dir():
        pytest.skip(f"{src} is not in the Go module cache yet (the first build fetches it)")
    ours = {d["metadata"]["name"]: d for d in yaml.safe_load_all(paths.KWOK_STAGES.read_text())}
    for f in ("node/heartbeat-with-lease/node-heartbeat-with-lease.yaml", "pod/fast/pod-ready.yaml",
              "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"):
        theirs = yaml.safe_load((src / f).read_text())
        assert ours[theirs["metadata"]["name"]] == theirs, f
    theirs = yaml.safe_load((src / "node/fast/node-initialize.yaml").read_text())
    mine = ours["node-initialize"]
    assert mine["spec"]["selector"] == theirs["spec"]["selector"]
    strip = lambda s: s.split("capacity:")[0] + s.split("{{ $nodeInfo")[1]
    assert strip(mine["spec"]["next"]["statusTemplate"]) == strip(theirs["spec"]["next"]["statusTemplate"])


def test_broken_yaml_points_at_the_line():
    with pytest.raises(WorkshopError) as err:
        kube.parse_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n")
    assert "line 5" in err.value.message


def test_list_where_a_map_belongs():
    with pytest.raises(WorkshopError) as err:
        kube.parse_manifests("- apiVersion: v1\n  kind: Pod\n")
    assert "a list" in err.value.message and "`-`" in err.value.fix


def test_object_without_kind_or_name():
    with pytest.raises(WorkshopError, match="has no kind, metadata.name"):
        kube.parse_manifests("apiVersion: v1\nmetadata: {}\n")


def test_comment_only_yaml_is_empty_and_lists_are_flattened():
    assert kube.parse_manifests("# nothing yet\n") == []
    objs = kube.parse_manifests(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n")
    assert [o["metadata"]["name"] for o in objs] == ["a"]


def test_pid_checks_look_at_the_command_line():
    me = os.getpid()
    assert not procs.is_running(me, "kube-apiserver")
    assert procs.is_running(me, Path(procs.cmdline(me)[0]).name)
    assert not procs.is_running(None, "etcd") and not procs.is_running(2**22 + 7, "etcd")


def test_port_holder_names_the_listener():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        holder = procs.port_holder(port)
        assert procs.port_in_use(port)
        assert holder and holder.pid == os.getpid()


def test_an_older_clusters_stages_are_refreshed_once(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "KWOK_WORKDIR", tmp_path)
    cluster.cluster_dir().mkdir(parents=True)
    config = cluster.render_config(tmp_path / "bin", toolchain.Versions.load())
    old = config.replace("karpenter.kwok.sh/instance-cpu", "an-older-template")
    (cluster.cluster_dir() / "kwok.yaml").write_text(old)
    assert cluster.refresh_stages() is True
    assert cluster.kwok_config()["options"]["runtime"] == "binary"  # the rest is kept
    assert "karpenter.kwok.sh/instance-cpu" in (cluster.cluster_dir() / "kwok.yaml").read_text()
    assert cluster.refresh_stages() is False


def test_a_stage_delay_change_reaches_an_older_cluster(tmp_path, monkeypatch):
    # The templates alone are not the whole Stage: a change to a Stage's delay (here the
    # heartbeat's) must reach a cluster made before it, as a template change does.
    monkeypatch.setattr(paths, "KWOK_WORKDIR", tmp_path)
    cluster.cluster_dir().mkdir(parents=True)
    config = cluster.render_config(tmp_path / "bin", toolchain.Versions.load())
    old = config.replace("durationMilliseconds: 600000\n", "durationMilliseconds: 60000\n", 1)
    assert old != config
    (cluster.cluster_dir() / "kwok.yaml").write_text(old)
    assert cluster.refresh_stages() is True
    assert cluster.refresh_stages() is False
