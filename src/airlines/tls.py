"""A private CA and the certificates it signs, as PEM, for the brokers' TLS listeners.

Keys are PKCS#8 PEM (``BEGIN PRIVATE KEY``): the only unencrypted form the Kafka
broker's PEM key store reads, and one librdkafka and OpenSSL read too. A key in another
form (Helm's ``genCA`` writes PKCS#1) is converted by :func:`to_pkcs8`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Validity of what :func:`new_ca` and :func:`issue` make unless told otherwise.
CA_DAYS = 3650
CERT_DAYS = 825


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM text."""

    cert: str
    key: str


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: what every TLS stack in the system (JDK, OpenSSL) negotiates, small and fast.
    return ec.generate_private_key(ec.SECP256R1())


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # room for clock skew


def new_ca(common_name: str, days: int = CA_DAYS) -> KeyPair:
    """A self-signed CA that may sign end-entity certificates only."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_pem(cert), _pkcs8(key))


def _load_key(pem: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__} (RSA or EC expected)")
    return key


def to_pkcs8(key_pem: str) -> str:
    """The same private key as PKCS#8 PEM (from PKCS#1, SEC1 or PKCS#8)."""
    return _pkcs8(_load_key(key_pem))


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    dns_names: list[str],
    ip_addresses: list[str] | None = None,
    days: int = CERT_DAYS,
) -> KeyPair:
    """A server-and-client certificate for these names, signed by ``ca``."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = _load_key(ca.key)
    key = _new_key()
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses or []]
    start = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(_authority_key_id(ca_cert, ca_key), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(_pem(cert), _pkcs8(key))


def _authority_key_id(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
) -> x509.AuthorityKeyIdentifier:
    """The issuer's own subject key identifier when it has one: Helm's genCA writes one
    that is not the SHA-1 of the key's bits, and a JDK builds no path through a
    certificate whose authority key identifier differs from its issuer's."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
