"""The read-only tools through other accounts (`--kubeconfig`, as on a team's EKS cluster):

- a ServiceAccount that may only read its namespace (pods, events): `explain` and
  `nodes --once` exit cleanly, show the pod, its events and its namespace's pods, and name
  each missing permission in one line; the live viewer's watches narrow to the namespace;
- a ServiceAccount with read-only cluster rights (get, list, watch on what the tools read):
  every read succeeds and the output equals the kit's own kubeconfig's;
- and no verb writes: every HTTP request the tools send through either account is a GET.

Each account's kubeconfig carries a token from the TokenRequest API, mode 0600.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes.client import rest

from workshop import cli
from workshop.k8s import clusterwatch, kube, observe
from workshop.k8s.workloads import deployment

pytestmark = pytest.mark.cluster

READS = ["get", "list", "watch"]


def _kubeconfig(tmp: Path, sa: str, namespace: str) -> Path:
    """A kubeconfig for the ServiceAccount: the kit's server and CA, a requested token."""
    token = kube.core().create_namespaced_service_account_token(
        sa, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    kit = yaml.safe_load(kube.kubeconfig_path().read_text())
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": sa,
           "clusters": [{"name": "kit", "cluster": kit["clusters"][0]["cluster"]}],
           "users": [{"name": sa, "user": {"token": token}}],
           "contexts": [{"name": sa, "context": {"cluster": "kit", "user": sa,
                                                 "namespace": namespace}}]}
    path = tmp / f"{sa}.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return path


def _account(tmp: Path, ns: str, sa: str, cluster_wide: bool) -> Path:
    objs = [{"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": sa, "namespace": ns}}]
    if cluster_wide:
        rules = [{"apiGroups": [""], "resources": ["pods", "events", "nodes", "namespaces"],
                  "verbs": READS},
                 {"apiGroups": ["karpenter.sh"], "resources": ["nodepools", "nodeclaims"],
                  "verbs": READS},
                 # explain counts the DaemonSets every new node runs, as Karpenter does
                 {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": READS}]
        objs += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": f"{ns}-{sa}"}, "rules": rules},
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                  "metadata": {"name": f"{ns}-{sa}"},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": f"{ns}-{sa}"},
                  "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]}]
    else:  # what an application team usually gets: read its own namespace
        objs += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": sa, "namespace": ns},
                  "rules": [{"apiGroups": [""], "resources": ["pods", "events"], "verbs": READS}]},
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": sa, "namespace": ns},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
                  "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]}]
    kube.apply(objs, field_manager="tests")
    return _kubeconfig(tmp, sa, ns)


@pytest.fixture(scope="module")
def team(cluster, tmp_path_factory):
    """A namespace with one placed pod and one no pool can serve, and both accounts."""
    ns = "team-readonly"
    kube.ensure_namespace(ns, field_manager="tests")
    kube.apply([deployment("api", ns, 1, cpu="500m", memory="512Mi"),
                deployment("stuck", ns, 1, cpu="500m", memory="512Mi",
                           node_selector={"team": "nowhere"})], field_manager="tests")
    observe.wait_pods_ready(ns, "app=api", 1, 60)
    kube.wait_until(lambda: any(e.get("reason") == "FailedScheduling"
                                and kube.event_source(e) == "karpenter"
                                for e in kube.list_("v1", "Event", namespace=ns)),
                    60, 0.5, "Karpenter's word on the stuck pod")
    tmp = tmp_path_factory.mktemp("accounts")
    yield {"ns": ns, "low": _account(tmp, ns, "team-reader", False),
           "read": _account(tmp, ns, "cluster-reader", True)}
    for kind, name in (("ClusterRoleBinding", f"{ns}-cluster-reader"),
                       ("ClusterRole", f"{ns}-cluster-reader")):
        kube.delete("rbac.authorization.k8s.io/v1", kind, name)
    observe.delete_namespace(ns)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", *args], capture_output=True,
                          text=True, timeout=60, env=os.environ.copy())


@pytest.fixture
def methods(monkeypatch):
    """Every HTTP method the kube client sends in this process."""
    sent: list[str] = []
    real = rest.RESTClientObject.request

    def request(self, method, url, *args, **kwargs):
        sent.append(method)
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(rest.RESTClientObject, "request", request)
    return sent


def test_a_namespace_only_account_sees_its_pods_and_names_what_is_missing(team, methods, capsys):
    low, ns = str(team["low"]), team["ns"]
    placed = _cli("explain", "api", "--kubeconfig", low)  # the namespace: the context's
    assert placed.returncode == 0, placed.stderr
    assert "Traceback" not in placed.stdout + placed.stderr
    assert f"Pod {ns}/api-" in placed.stdout
    assert "Runs on node kwok-" in placed.stdout
    assert "missing permission: get nodes (cluster-wide): it would show the node's instance " \
           "type, capacity type, zone and price" in placed.stdout
    assert "missing permission: list nodepools.karpenter.sh (cluster-wide)" in placed.stdout

    stuck = _cli("explain", "stuck", "-n", ns, "--kubeconfig", low)
    assert stuck.returncode == 0, stuck.stderr
    assert "Pending (cannot: Karpenter cannot place it)." in stuck.stdout
    assert 'karpenter: Failed to schedule pod' in stuck.stdout  # its events: readable
    assert "missing permission: list nodepools.karpenter.sh" in stuck.stdout

    nodes = _cli("nodes", "--once", "--kubeconfig", low)
    assert nodes.returncode == 0, nodes.stderr
    out = nodes.stdout
    assert out.startswith("nodes: this account may not read them")
    assert "missing permission: list, watch nodes (cluster-wide)" in out
    assert (f"missing permission: list, watch pods (all namespaces): it would show other "
            f"namespaces' pods on the nodes; showing namespace {ns} only") in out
    assert "missing permission: list, watch nodepools.karpenter.sh" in out
    assert f"1 pods on nodes this account cannot read:\n  {ns}/api-" in out
    assert f"{ns}/stuck-" in out and "karpenter: Failed to schedule pod" in out
    for text in (placed.stdout, stuck.stdout, out):
        print(text)

    # In-process, the same two verbs and the notebook viewer's watches: only GETs.
    assert cli.main(["explain", "stuck", "-n", ns, "--kubeconfig", low]) == 0
    assert cli.main(["nodes", "--once", "--kubeconfig", low]) == 0
    with kube.target(low):
        watch = clusterwatch.ClusterWatch(ns).start()
        try:
            assert watch.synced.wait(20)
            snap = watch.snapshot()
        finally:
            watch.close()
    assert {p[0] for p in snap.pods} == {ns}
    assert any(line.startswith("missing permission: list, watch nodes") for line in snap.missing)
    assert methods and set(methods) == {"GET"}, f"a write was attempted: {sorted(set(methods))}"


def test_a_cluster_read_account_sees_what_the_kit_sees_and_never_writes(team, methods):
    read, ns = str(team["read"]), team["ns"]
    for args in (["explain", "api", "-n", ns], ["explain", "stuck", "-n", ns],
                 ["nodes", "--once"]):
        # The kit's view just before and just after: nodes left by earlier tests may be
        # consolidated away between two runs, so the account's view must equal one of them.
        before = _cli(*args)
        theirs = _cli(*args, "--kubeconfig", read)
        after = _cli(*args)
        assert theirs.returncode == 0 == before.returncode == after.returncode, theirs.stderr
        assert "missing permission" not in theirs.stdout
        assert theirs.stdout in (before.stdout, after.stdout), (args, theirs.stdout, after.stdout)
    for args in (["explain", "api", "-n", ns], ["explain", "stuck", "-n", ns],
                 ["nodes", "--once"]):
        assert cli.main([*args, "--kubeconfig", read]) == 0
    assert methods and set(methods) == {"GET"}, f"a write was attempted: {sorted(set(methods))}"
