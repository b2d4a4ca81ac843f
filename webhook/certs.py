"""A private CA and the webhook's serving certificate, for clusters without cert-manager.

The API server only calls a webhook over TLS it can verify against the configuration's
`caBundle`. The CA therefore lives longer than the serving certificate and is reused when
the serving certificate is re-issued: rotating `tls.crt` never invalidates a caBundle that
is already installed. File names follow a Kubernetes TLS Secret as cert-manager writes it
(`tls.crt`, `tls.key`, `ca.crt`), so the directory can be loaded with
`kubectl create secret generic --from-file=DIR`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY, TLS_CERT, TLS_KEY = "ca.crt", "ca.key", "tls.crt", "tls.key"
# Certificates start a little in the past so a node whose clock lags still accepts them.
BACKDATE = dt.timedelta(minutes=5)
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(
    r"^(\*\.)?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}"
    r"[A-Za-z0-9])?)*$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CertError(Exception):
    """Why certificates could not be written; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class CertResult:
    """What `write_certificates` did, so the CLI can say it."""

    ca_created: bool
    written: tuple[Path, ...]
    ca_not_after: dt.datetime
    cert_not_after: dt.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def service_dns_names(service: str, namespace: str) -> list[str]:
    """Every name a client inside the cluster may use for the Service (the API server uses
    `NAME.NS.svc`)."""
    for value, what in ((service, "service"), (namespace, "namespace")):
        if not _LABEL.match(value):
            raise CertError(f"{what} {value!r} is not a valid DNS label "
                            "(lowercase letters, digits and '-', at most 63)")
    base = f"{service}.{namespace}"
    return [service, base, f"{base}.svc", f"{base}.svc.cluster.local"]


def split_names(extra: Iterable[str]) -> tuple[list[str], list[IPAddress]]:
    """Extra SANs: IP addresses become IP SANs (a hostname check never matches them)."""
    names: list[str] = []
    ips: list[IPAddress] = []
    for value in extra:
        try:
            ips.append(ipaddress.ip_address(value))
            continue
        except ValueError:
            pass
        if not _DNS_NAME.match(value) or len(value) > 253:
            raise CertError(f"extra name {value!r} is neither a DNS name nor an IP address")
        names.append(value.lower())
    return names, ips


def new_ca(common_name: str, days: int, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey,
                                                                      x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_serving_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    dns_names: Sequence[str],
    ip_addresses: Sequence[IPAddress],
    days: int,
    now: dt.datetime,
    common_name: str | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A leaf for TLS servers only; it never outlives its CA (clients would reject it)."""
    common_name = common_name or dns_names[0]
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ip) for ip in ip_addresses]
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def write_certificates(
    out_dir: Path,
    service: str,
    namespace: str,
    *,
    days: int = 365,
    ca_days: int = 3650,
    extra_names: Iterable[str] = (),
    renew: bool = False,
    now: dt.datetime | None = None,
) -> CertResult:
    """Create or reuse the CA in `out_dir` and issue the serving certificate.

    Existing serving files are only replaced with `renew`, and only when they are a
    certificate and a key: anything else at those paths is someone else's file.
    """
    if days < 1 or ca_days < 1:
        raise CertError("--days and --ca-days must be at least 1")
    now = now or dt.datetime.now(dt.UTC)
    dns_names = service_dns_names(service, namespace)
    extra_dns, ips = split_names(extra_names)
    dns_names += [n for n in extra_dns if n not in dns_names]
    if out_dir.exists() and not out_dir.is_dir():
        raise CertError(f"{out_dir} exists and is not a directory")
    paths = {name: out_dir / name for name in (CA_CERT, CA_KEY, TLS_CERT, TLS_KEY)}
    for path in paths.values():
        if path.exists() and not path.is_file():
            raise CertError(f"{path} exists and is not a file; refusing to touch it")
    ca = _existing_ca(paths[CA_CERT], paths[CA_KEY], now)
    if renew and ca is None:
        raise CertError(f"--renew re-issues the serving certificate with the CA in {out_dir}, "
                        f"but there is no {CA_CERT} / {CA_KEY}; run without --renew first")
    _check_serving_files(paths[TLS_CERT], paths[TLS_KEY], renew)

    written: list[Path] = []
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if ca is None:
        ca = new_ca(f"pathwarden webhook CA ({namespace})", ca_days, now)
        _write(paths[CA_KEY], _key_pem(ca[0]), 0o600)
        _write(paths[CA_CERT], ca[1].public_bytes(serialization.Encoding.PEM), 0o644)
        written += [paths[CA_CERT], paths[CA_KEY]]
    key, cert = issue_serving_cert(ca[0], ca[1], dns_names, ips, days, now, dns_names[2])
    _write(paths[TLS_KEY], _key_pem(key), 0o600)
    _write(paths[TLS_CERT], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    written += [paths[TLS_CERT], paths[TLS_KEY]]
    return CertResult(
        ca_created=paths[CA_CERT] in written,
        written=tuple(written),
        ca_not_after=ca[1].not_valid_after_utc,
        cert_not_after=cert.not_valid_after_utc,
        dns_names=tuple(dns_names),
        ip_addresses=tuple(str(ip) for ip in ips),
    )


def verify_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True when `ca_cert` signed `cert` (used by tests and by operators checking a pair)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _existing_ca(
    cert_path: Path, key_path: Path, now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    """The CA to reuse, or None when there is none; a half or foreign CA is an error."""
    if not cert_path.exists() and not key_path.exists():
        return None
    if not (cert_path.exists() and key_path.exists()):
        present, missing = (cert_path, key_path) if cert_path.exists() else (key_path, cert_path)
        raise CertError(f"{present} exists but {missing} does not; a CA needs both "
                        "(restore the missing file or use an empty directory)")
    cert = _load_cert(cert_path)
    key = _load_key(key_path)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CertError(f"{cert_path} is not a CA certificate; refusing to overwrite it")
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise CertError(f"{key_path} is not the key of {cert_path}")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{key_path}: only ECDSA CA keys are supported")
    if cert.not_valid_after_utc <= now:
        raise CertError(f"the CA in {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
                        "move ca.crt/ca.key away to create a new one (and update the caBundle)")
    try:
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise CertError(f"{cert_path} has no subject key identifier; cannot reuse it") from exc
    return key, cert


def _check_serving_files(cert_path: Path, key_path: Path, renew: bool) -> None:
    existing = [p for p in (cert_path, key_path) if p.exists()]
    if not existing:
        return
    if not renew:
        raise CertError(f"{', '.join(map(str, existing))} already exist(s); pass --renew to "
                        "re-issue the serving certificate (the CA is kept)")
    if cert_path.exists():
        _load_cert(cert_path)
    if key_path.exists():
        _load_key(key_path)


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (ValueError, OSError) as exc:
        raise CertError(f"{path} is not a PEM certificate; refusing to overwrite it") from exc


def _load_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise CertError(f"{path} is not an unencrypted PEM private key; refusing to "
                        "overwrite it") from exc


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file so a reader (the webhook's reload) never sees half a
    PEM, and so a key is never readable by others even for a moment."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
