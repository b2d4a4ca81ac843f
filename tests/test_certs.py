"""`pathwarden certs`: the chain the API server will verify, checked the way it verifies it.

The handshake tests run a real TLS server on loopback with the written files, so they prove
what matters in a cluster: a client that trusts only ca.crt reaches `NAME.NS.svc`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pathwarden.engine.cli.main import main
from pathwarden.webhook.certs import BACKDATE, new_ca, verify_issued_by

SERVICE, NAMESPACE = "pathwarden-webhook", "pathwarden"
NAMES = [SERVICE, f"{SERVICE}.{NAMESPACE}", f"{SERVICE}.{NAMESPACE}.svc",
         f"{SERVICE}.{NAMESPACE}.svc.cluster.local"]


def certs(out: Path, *extra: str) -> int:
    return main(["certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", str(out),
                 *extra])


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A loopback TLS server that says b"ok" to every client that completes a handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                if stopping.is_set():
                    return
                conn.settimeout(10)
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"ok")
                except (ssl.SSLError, OSError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        # close() does not wake a thread blocked in accept(); a last connection does.
        stopping.set()
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        thread.join(10)
        listener.close()


def handshake(port: int, ca_file: Path, hostname: str) -> bytes:
    """Connect like the API server: trust only the CA bundle, check the name (strictly)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=hostname) as tls:
        return tls.recv(2)


def test_writes_a_ca_and_a_serving_certificate_it_signed(tmp_path, capsys):
    out = tmp_path / "tls"
    assert certs(out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    ca, leaf = load_cert(out / "ca.crt"), load_cert(out / "tls.crt")

    assert verify_issued_by(leaf, ca)
    leaf.verify_directly_issued_by(ca)  # raises on a bad signature
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == NAMES
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest

    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=365) + BACKDATE
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == dt.timedelta(days=3650) + BACKDATE
    for name in ("ca.key", "tls.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    for name in ("ca.crt", "tls.crt"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644

    printed = capsys.readouterr().out
    assert "CA created" in printed and str(out / "tls.key") in printed
    assert f"expires {leaf.not_valid_after_utc:%Y-%m-%d}" in printed


def test_days_extra_dns_and_ip_addresses(tmp_path):
    out = tmp_path / "tls"
    assert certs(out, "--days", "30", "--extra-dns", "webhook.example.com", "10.1.2.3",
                 "--extra-dns", "::1") == 0
    leaf = load_cert(out / "tls.crt")
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [*NAMES, "webhook.example.com"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3", "::1"]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=30) + BACKDATE


def test_serving_certificate_never_outlives_its_ca(tmp_path, capsys):
    out = tmp_path / "tls"
    assert certs(out, "--days", "400", "--ca-days", "10") == 0
    assert load_cert(out / "tls.crt").not_valid_after_utc == load_cert(
        out / "ca.crt").not_valid_after_utc
    assert "cut short" in capsys.readouterr().err


def test_second_run_without_renew_refuses_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "tls"
    assert certs(out) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert certs(out) == 2
    assert "--renew" in capsys.readouterr().err
    assert snapshot(out) == before


def test_renew_keeps_the_ca_so_the_installed_ca_bundle_stays_valid(tmp_path, capsys):
    out = tmp_path / "tls"
    assert certs(out) == 0
    before = snapshot(out)
    old_leaf = load_cert(out / "tls.crt")
    assert certs(out, "--renew") == 0
    after = snapshot(out)
    assert after["ca.crt"] == before["ca.crt"] and after["ca.key"] == before["ca.key"]
    assert after["tls.key"] != before["tls.key"]
    new_leaf = load_cert(out / "tls.crt")
    assert new_leaf.serial_number != old_leaf.serial_number
    assert verify_issued_by(new_leaf, x509.load_pem_x509_certificate(before["ca.crt"]))
    assert "CA reused" in capsys.readouterr().out
    with tls_server(out / "tls.crt", out / "tls.key") as port:
        assert handshake(port, out / "ca.crt", NAMES[2]) == b"ok"


def test_an_existing_ca_is_reused_for_a_new_serving_certificate(tmp_path):
    out = tmp_path / "tls"
    assert certs(out) == 0
    ca_before = (out / "ca.crt").read_bytes()
    (out / "tls.crt").unlink()
    (out / "tls.key").unlink()
    assert certs(out) == 0
    assert (out / "ca.crt").read_bytes() == ca_before
    assert verify_issued_by(load_cert(out / "tls.crt"), load_cert(out / "ca.crt"))


@pytest.mark.parametrize(("setup", "args", "message"), [
    ({"ca.crt": b"my notes\n"}, [], "ca.crt exists but"),
    ({"ca.crt": b"my notes\n", "ca.key": b"more notes\n"}, [], "not a PEM certificate"),
    ({"tls.crt": b"unrelated\n"}, [], "--renew"),
    ({"ca.key": b"x"}, ["--renew"], "ca.crt"),
    ({}, ["--renew"], "no ca.crt"),
])
def test_refuses_to_touch_files_that_are_not_its_own(tmp_path, capsys, setup, args, message):
    out = tmp_path / "tls"
    out.mkdir()
    for name, data in setup.items():
        (out / name).write_bytes(data)
    assert certs(out, *args) == 2
    assert message in capsys.readouterr().err
    assert snapshot(out) == setup


def test_renew_refuses_to_overwrite_a_foreign_serving_file(tmp_path, capsys):
    out = tmp_path / "tls"
    assert certs(out) == 0
    (out / "tls.crt").write_bytes(b"someone else's file\n")
    before = snapshot(out)
    assert certs(out, "--renew") == 2
    assert "not a PEM certificate" in capsys.readouterr().err
    assert snapshot(out) == before


def test_a_leaf_certificate_is_not_taken_for_a_ca(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert certs(first) == 0
    second.mkdir()
    (second / "ca.crt").write_bytes((first / "tls.crt").read_bytes())
    (second / "ca.key").write_bytes((first / "tls.key").read_bytes())
    assert certs(second) == 2
    assert "not a CA certificate" in capsys.readouterr().err


def test_a_ca_key_that_does_not_match_is_refused(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert certs(first) == 0
    assert certs(second) == 0
    (second / "ca.key").write_bytes((first / "ca.key").read_bytes())
    (second / "tls.crt").unlink()
    (second / "tls.key").unlink()
    assert certs(second) == 2
    assert "is not the key of" in capsys.readouterr().err


def test_an_expired_ca_is_not_reused(tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization

    out = tmp_path / "tls"
    out.mkdir()
    key, cert = new_ca("old", 1, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    (out / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "ca.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    assert certs(out) == 2
    assert "expired" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--service", "Bad_Name", "--namespace", "ns"],
    ["--service", "svc", "--namespace", "ns", "--extra-dns", "not a name"],
    ["--service", "svc", "--namespace", "ns", "--days", "0"],
])
def test_invalid_input_exits_2_and_writes_nothing(tmp_path, args):
    out = tmp_path / "tls"
    assert main(["certs", "--out", str(out), *args]) == 2
    assert not out.exists() or not any(out.iterdir())


def test_tls_handshake_succeeds_for_every_service_name_and_fails_for_others(tmp_path):
    out = tmp_path / "tls"
    assert certs(out, "--extra-dns", "127.0.0.1") == 0
    with tls_server(out / "tls.crt", out / "tls.key") as port:
        for name in (*NAMES, "127.0.0.1"):
            assert handshake(port, out / "ca.crt", name) == b"ok"
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            handshake(port, out / "ca.crt", "other-webhook.pathwarden.svc")
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            handshake(port, out / "ca.crt", "127.0.0.2")


def test_tls_handshake_fails_against_another_ca(tmp_path):
    out, other = tmp_path / "tls", tmp_path / "other"
    assert certs(out) == 0
    assert certs(other) == 0
    with tls_server(out / "tls.crt", out / "tls.key") as port, \
            pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, other / "ca.crt", NAMES[2])
