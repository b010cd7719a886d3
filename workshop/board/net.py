"""The learner's side of talking to a board: what it trusts and what it does not.

- Beyond loopback only HTTPS, and only to the certificate whose SHA-256 fingerprint the
  join line carried (PIN=...): checked right after the TLS handshake, before a byte of the
  request (room code, token) is sent. No certificate authority is involved.
- Plain HTTP only to this machine (127.0.0.0/8, ::1, localhost).
- No redirects, ever: http.client follows none, and a 3xx is an error (the room code and
  token never go to a host the join line did not name).
- Answers are read up to a bound; Retry-After is parsed in both forms and capped; text
  from the board is shown without control characters.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import ssl
import time
import unicodedata
from urllib.parse import urlsplit

MAX_ANSWER = 256 * 1024  # a JSON answer from the board; the board's own are < 1 KB
MAX_RETRY_AFTER_S = 60.0
PIN = re.compile(r"^[0-9a-f]{64}$")


class Untrusted(OSError):
    """The board failed a check (wrong certificate, a redirect, plain HTTP beyond this
    machine). An OSError: callers that keep reports queued while the board is unreachable
    do the same here, and nothing was sent."""


def normalize_pin(text: str | None) -> str | None:
    """The fingerprint as 64 lowercase hex digits (colons, `sha256:` and case forgiven);
    None when `text` is empty. Raises ValueError when it is not a SHA-256 fingerprint."""
    if not text or not text.strip():
        return None
    pin = text.strip().lower().removeprefix("sha256:").replace(":", "")
    if not PIN.match(pin):
        raise ValueError("a certificate fingerprint is 64 hex digits (SHA-256)")
    return pin


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_room_url(url: str, pin: str | None) -> None:
    """Raises ValueError (saying why) for a board URL the kit will not talk to."""
    try:
        u = urlsplit(url)
        u.port  # noqa: B018 (a port past 65535 or not a number raises here)
    except ValueError:
        raise ValueError(f"`{shown(url)}` is not the board's URL") from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"`{shown(url)}` is not the board's URL")
    if u.username or u.password or u.query or u.fragment or u.path not in ("", "/"):
        raise ValueError("the board's URL is only https://<address>:<port>")
    _check_transport(u.scheme, u.hostname, pin)


def _check_transport(scheme: str, host: str, pin: str | None) -> None:
    if scheme not in ("http", "https"):
        raise ValueError(f"{shown(scheme, 20)}:// is not a board's scheme")
    if scheme == "http" and not is_loopback(host):
        raise ValueError("a board on the room's network serves HTTPS; plain http:// is for "
                         "this machine only")
    if scheme == "https" and pin is None:
        raise ValueError("an https:// board needs its certificate's fingerprint (PIN=...)")


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to exactly one certificate: its SHA-256 must be the pin."""

    def __init__(self, host: str, port: int | None, pin: str, timeout: float):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # Trust comes from the pin below, not from a CA: the board signs its own.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, timeout=timeout, context=ctx)
        self._pin = pin

    def connect(self) -> None:
        super().connect()
        der = self.sock.getpeercert(binary_form=True) or b""
        got = hashlib.sha256(der).hexdigest()
        if not hmac.compare_digest(got, self._pin):
            self.sock.close()
            self.sock = None
            raise Untrusted(f"the board's certificate is not the one the join line named "
                            f"(its fingerprint is {got[:16]}..., the join line's "
                            f"{self._pin[:16]}...)")


class Answer:
    """One response; json() reads a bounded amount. Closing it closes the connection."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self._conn, self.resp = conn, resp
        self.status, self.headers = resp.status, resp.headers

    def read(self, n: int | None = None) -> bytes:
        return self.resp.read(n)  # (not -1: http.client would read on to the close)

    def json(self) -> dict:
        """The answer's JSON object, or {} (never more than MAX_ANSWER is read)."""
        data = self.resp.read(MAX_ANSWER + 1)
        if len(data) > MAX_ANSWER:
            return {}
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return {}
        return value if isinstance(value, dict) else {}

    def close(self) -> None:
        self.resp.close()  # with Connection: close the response holds the socket
        self._conn.close()

    def __enter__(self) -> "Answer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def request(method: str, url: str, *, pin: str | None, headers: dict | None = None,
            body: bytes | None = None, timeout: float = 5) -> Answer:
    """One request to the board. Raises Untrusted (nothing sent) or another OSError
    (unreachable); a redirect raises Untrusted after its answer, which is dropped."""
    try:
        u = urlsplit(url)
        _check_transport(u.scheme, u.hostname or "", pin)
        u.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        raise Untrusted(str(exc)) from None
    if u.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(u.hostname, u.port, pin, timeout)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        # One request per connection: say so, and the board closes it at once.
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        resp = conn.getresponse()
    except (http.client.HTTPException, ValueError) as exc:  # a board that speaks nonsense
        conn.close()
        raise OSError(f"the board's answer is not HTTP ({shown(str(exc), 80)})") from None
    except BaseException:
        conn.close()
        raise
    if 300 <= resp.status < 400:
        conn.close()
        raise Untrusted(f"the board answered with a redirect ({resp.status}); the kit "
                        "follows none, so the room code goes nowhere else")
    return Answer(conn, resp)


def retry_after(value: str | None, default: float, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date, capped at
    MAX_RETRY_AFTER_S; `default` when absent or unreadable."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value) if value.isascii() and value.replace(".", "", 1).isdigit() \
            else email.utils.parsedate_to_datetime(value).timestamp() - \
            (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return default
    if seconds != seconds:  # NaN
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def shown(text, most: int = 300) -> str:
    """Text from the board as it may be shown in a terminal: no control or formatting
    characters (no escape sequences, no bidi tricks), at most `most` characters."""
    text = str(text)
    clean = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= most else clean[: most - 1] + "…"
