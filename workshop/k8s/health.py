"""Is the API server able to answer, and if not, which part of the cluster is down?

With etcd gone the API server still accepts connections, and every read waits for etcd
until the server's own request timeout (60 s) runs out: `workshop check 1` sat for a
minute or more before saying anything. The API server knows at once, though: its
`/readyz` check `etcd` fails within its 2 s etcd timeout. So before the first request
of a while (FRESH_S), the kit's client asks `/readyz` and turns a definite answer (nothing
listens; etcd fails; another check fails) into ClusterNotRunning naming the component,
within a few seconds. A probe that gets no answer in time (a busy machine) never blocks
the request itself: only a definite answer does.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from kubernetes import client as k8s

from workshop.errors import ClusterNotRunning

PROBE_S = 3.0  # the etcd check alone takes the API server 2 s to fail
FRESH_S = 5.0  # a healthy answer is trusted this long before the next probe
# `etcd-readiness` repeats the etcd check (another 2 s when etcd is down); `etcd` names it.
_QUERY = [("verbose", "true"), ("exclude", "etcd-readiness")]
_FAILED = re.compile(r"^\[-\]([\w/.:-]+) failed", re.M)
_HEALTH_PATHS = ("/readyz", "/livez", "/healthz")


@dataclass(frozen=True)
class Health:
    answered: bool  # False: no answer within PROBE_S (nothing definite is known)
    down: str = ""  # what is down, in words; "" when ready

    @property
    def ready(self) -> bool:
        return self.answered and not self.down


def _refused(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
            return True
        exc = getattr(exc, "reason", None) or exc.__cause__
    return False


def probe(client: k8s.ApiClient, timeout_s: float = PROBE_S) -> Health:
    """Ask the API server's /readyz what, if anything, is down. Never raises."""
    host = urlsplit(client.configuration.host).netloc
    try:
        method, url, headers, _, _ = client.param_serialize(
            "GET", "/readyz", query_params=_QUERY, auth_settings=["BearerToken"])
        resp = k8s.ApiClient.call_api(client, method, url, headers, _request_timeout=timeout_s)
        resp.read()
    except Exception as exc:  # the client raises urllib3's and the socket's own errors
        if _refused(exc):
            return Health(True, f"kube-apiserver is down (nothing answers at {host})")
        return Health(False, f"kube-apiserver does not answer within {timeout_s:.0f} s")
    if resp.status == 200:
        return Health(True)
    failed = _FAILED.findall((resp.data or b"").decode(errors="replace"))
    if "etcd" in failed:
        return Health(True, "etcd is down (the API server cannot reach its store)")
    if failed:
        return Health(True, f"kube-apiserver is not ready ({', '.join(failed[:3])} failing)")
    return Health(True)  # 401/403/404: this probe cannot tell; let the request say


def require(client: k8s.ApiClient) -> None:
    """Raise ClusterNotRunning, naming what is down, unless the API server is ready
    (here no answer in time counts as down: the caller asked before doing anything)."""
    health = probe(client)
    if not health.ready:
        raise ClusterNotRunning(down=health.down)


class CheckedClient(k8s.ApiClient):
    """The kit's API client: before a request, if the API server has not been seen ready
    for FRESH_S, probe it and raise ClusterNotRunning at once on a definite 'down'."""

    def __init__(self, configuration: k8s.Configuration):
        super().__init__(configuration)
        self._ready_at = float("-inf")
        self._lock = threading.Lock()

    def call_api(self, method, url, header_params=None, body=None, post_params=None,
                 _request_timeout=None):
        if not urlsplit(url).path.startswith(_HEALTH_PATHS):
            self._gate()
        return super().call_api(method, url, header_params, body, post_params,
                                _request_timeout=_request_timeout)

    def _gate(self) -> None:
        if time.monotonic() - self._ready_at < FRESH_S:
            return
        with self._lock:  # one probe when many threads start at once (the viewer's watches)
            if time.monotonic() - self._ready_at < FRESH_S:
                return
            health = probe(self)
            if health.ready:
                self._ready_at = time.monotonic()
            elif health.answered:
                raise ClusterNotRunning(down=health.down)
