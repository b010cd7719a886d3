"""The board's own TLS certificate, for when it listens on the room's network.

Made once with `cryptography` (an ECDSA P-256 key and a self-signed certificate) and kept
beside the room's database, the key 0600: a restarted board keeps its fingerprint, so the
join line learners copied stays right. No certificate authority vouches for it: the join
line carries the certificate's SHA-256 fingerprint and the learner's client (net.py) pins
exactly that certificate, which only the holder of this key can present.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

CERT_NAME = "tls-cert.pem"
KEY_NAME = "tls-key.pem"
VALID_DAYS = 3650  # pinned by fingerprint, not checked by date: no reason to expire mid-course


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    fingerprint: str  # lowercase hex SHA-256 of the DER certificate (64 characters)


def fingerprint_of(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def certificate(folder: Path, addresses: list[str] = ()) -> Certificate:
    """This board's certificate in `folder`: the kept one, or a new one (and its key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if not (cert_path.is_file() and key_path.is_file()):
        _make(cert_path, key_path, addresses)
    key_path.chmod(0o600)
    der = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER)
    return Certificate(cert_path, key_path, fingerprint_of(der))


def _make(cert_path: Path, key_path: Path, addresses) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "karpenter-workshop board")])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for a in ["127.0.0.1", *addresses]:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(a)))
        except ValueError:
            alt.append(x509.DNSName(a))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(alt))),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
