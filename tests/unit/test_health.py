"""The API client's health gate on small local servers (the real cluster's etcd-down case
is tests/integration/test_0_faults.py)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client as k8s

from workshop.errors import ClusterNotRunning
from workshop.k8s import health


def client_for(port: int) -> health.CheckedClient:
    cfg = k8s.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    cfg.retries = 0
    return health.CheckedClient(cfg)


@pytest.fixture
def apiserver():
    """A stand-in API server whose /readyz says what `state["readyz"]` holds."""
    state = {"readyz": (200, "[+]ping ok\n[+]etcd ok\nreadyz check passed\n"), "calls": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state["calls"].append(self.path)
            status, body = state["readyz"] if self.path.startswith("/readyz") else \
                (200, '{"kind": "NamespaceList", "items": []}')
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


def list_namespaces(client):
    return k8s.CoreV1Api(client).list_namespace(_preload_content=False)


def test_a_ready_api_server_is_probed_once_per_while(apiserver):
    port, state = apiserver
    client = client_for(port)
    list_namespaces(client)
    list_namespaces(client)
    probes = [c for c in state["calls"] if c.startswith("/readyz")]
    assert len(probes) == 1 and "exclude=etcd-readiness" in probes[0]


def test_etcd_down_is_named_before_the_request_waits_for_it(apiserver):
    port, state = apiserver
    state["readyz"] = (500, "[+]ping ok\n[-]etcd failed: reason withheld\n"
                            "[+]informer-sync ok\nreadyz check failed\n")
    with pytest.raises(ClusterNotRunning) as err:
        list_namespaces(client_for(port))
    assert err.value.message == ("the workshop cluster is not running: etcd is down "
                                 "(the API server cannot reach its store)")
    assert "make up" in err.value.fix
    assert not any(c.startswith("/api/v1") for c in state["calls"])  # never sent


def test_another_failing_check_is_named(apiserver):
    port, state = apiserver
    state["readyz"] = (500, "[+]etcd ok\n[-]poststarthook/rbac/bootstrap-roles failed: x\n")
    with pytest.raises(ClusterNotRunning, match="bootstrap-roles failing"):
        health.require(client_for(port))


def test_a_probe_that_cannot_tell_lets_the_request_through(apiserver):
    port, state = apiserver
    state["readyz"] = (403, '{"kind": "Status", "reason": "Forbidden"}')  # e.g. RBAC elsewhere
    assert list_namespaces(client_for(port)).status == 200


def test_nothing_listening_names_the_api_server():
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClusterNotRunning, match=f"kube-apiserver is down .nothing answers at 127.0.0.1:{port}"):
        list_namespaces(client_for(port))
