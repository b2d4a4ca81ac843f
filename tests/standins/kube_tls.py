"""TLS for the Kubernetes API stand-in: a throwaway CA, the server's certificate for
127.0.0.1 and client certificates, so the real client's TLS and client-cert paths run."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(slots=True)
class Tls:
    """A throwaway CA, the server's certificate for 127.0.0.1, and client certificates."""

    ca_pem: bytes
    ca_key: ec.EllipticCurvePrivateKey
    dir: Path
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)

    @classmethod
    def create(cls) -> Tls:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-api stand-in CA")])
        cert = (_builder(name, name, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        tls = cls(cert.public_bytes(serialization.Encoding.PEM), key,
                  Path(tempfile.mkdtemp(prefix="kube-api-standin-")))
        cert_pem, key_pem = tls.issue("127.0.0.1", server=True)
        tls.server_cert, tls.server_key = tls.dir / "tls.crt", tls.dir / "tls.key"
        tls.server_cert.write_bytes(cert_pem)
        tls.server_key.write_bytes(key_pem)
        (tls.dir / "ca.crt").write_bytes(tls.ca_pem)
        return tls

    def issue(self, common_name: str, *, server: bool = False) -> tuple[bytes, bytes]:
        """A certificate and key signed by the CA: for the server, or a client user."""
        key = ec.generate_private_key(ec.SECP256R1())
        ca = x509.load_pem_x509_certificate(self.ca_pem)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (_builder(subject, ca.subject, key.public_key())
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address(common_name))]), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)))
