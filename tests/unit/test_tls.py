"""The private CA and the broker certificates it issues (``airlines.tls``)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from airlines.tls import KeyPair, issue, new_ca, to_pkcs8


def _pkcs1_rsa_ca() -> KeyPair:
    """A CA as Helm's genCA makes it: RSA, PKCS#1 key, a subject key id of its own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helm-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(b"not-a-sha1-of-the-key"), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), pem.decode())


def _verified_by(leaf: KeyPair, ca: KeyPair) -> x509.Certificate:
    cert = x509.load_pem_x509_certificate(leaf.cert.encode())
    issuer = x509.load_pem_x509_certificate(ca.cert.encode())
    cert.verify_directly_issued_by(issuer)
    return cert


def test_an_issued_certificate_names_the_host_and_its_key_is_pkcs8() -> None:
    ca = new_ca("test CA")
    leaf = issue(ca, "kafka-broker", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    cert = _verified_by(leaf, ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert leaf.key.startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(leaf.key.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert (
        cert.not_valid_after_utc
        <= x509.load_pem_x509_certificate(ca.cert.encode()).not_valid_after_utc
    )


def test_a_helm_made_ca_signs_with_its_own_key_identifier() -> None:
    ca = _pkcs1_rsa_ca()
    assert ca.key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    cert = _verified_by(issue(ca, "broker", dns_names=["kafka-0.kafka"]), ca)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == b"not-a-sha1-of-the-key"
    assert to_pkcs8(ca.key).startswith("-----BEGIN PRIVATE KEY-----")
