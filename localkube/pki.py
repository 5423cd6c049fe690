"""The cluster's certificates and kubeconfigs: one CA signs every client and server.

Identities follow Kubernetes' conventions (what kubeadm creates): the components
authenticate with client certificates whose CN/O are the users and groups the
default RBAC policy and the Node authorizer know (``system:kube-scheduler``,
``system:node:<name>`` in ``system:nodes``, ...). Files are created once; an existing
CA is reused, so a cluster restarted with ``up`` keeps its identity.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localkube.spec import Spec

_VALIDITY = dt.timedelta(days=365)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Identity:
    """A certificate to issue: file stem, subject and what it is used for."""

    stem: str
    common_name: str
    organization: str | None = None
    client: bool = True
    server: bool = False
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


def identities(spec: Spec) -> list[Identity]:
    """Every certificate the cluster needs (the CA and the service-account key aside)."""
    node = spec.node_name
    domain = spec.cluster_domain
    return [
        Identity(
            "apiserver",
            "kube-apiserver",
            client=False,
            server=True,
            dns_names=(
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                f"kubernetes.default.svc.{domain}",
            ),
            ips=(spec.node_ip, spec.kubernetes_service_ip, "127.0.0.1"),
        ),
        Identity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        Identity("admin", "localkube-admin", "system:masters"),
        Identity("controller-manager", "system:kube-controller-manager"),
        Identity("scheduler", "system:kube-scheduler"),
        Identity("kube-proxy", "system:kube-proxy"),
        # Bound to the ClusterRole of addons/kube-router-rbac.yaml (reads only).
        Identity("kube-router", "system:kube-router"),
        Identity("kubelet-client", f"system:node:{node}", "system:nodes"),
        Identity(
            "kubelet",
            node,
            client=False,
            server=True,
            dns_names=(node,),
            ips=(spec.node_ip,),
        ),
    ]


#: kubeconfig file -> the identity it authenticates as.
KUBECONFIGS = {
    "admin.conf": "admin",
    "controller-manager.conf": "controller-manager",
    "scheduler.conf": "scheduler",
    "kube-proxy.conf": "kube-proxy",
    "kube-router.conf": "kube-router",
    "kubelet.conf": "kubelet-client",
}


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def _ca(pki: Path) -> tuple[x509.Certificate, PrivateKey]:
    crt, key = pki / "ca.crt", pki / "ca.key"
    if crt.exists() and key.exists():
        return x509.load_pem_x509_certificate(crt.read_bytes()), _load_key(key)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localkube-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + 10 * _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(key, _pem_key(ca_key), 0o600)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM))
    return cert, ca_key


def issue(identity: Identity, ca_cert: x509.Certificate, ca_key: PrivateKey) -> tuple[bytes, bytes]:
    """A certificate (PEM) and its key (PEM) for ``identity``, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name)]
    if identity.organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.organization))
    usages = []
    if identity.client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    if identity.server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in identity.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in identity.ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str) -> str:
    """A kubeconfig with the credentials embedded (one file says everything)."""

    def b64(data: bytes) -> str:
        return b64encode(data).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "localkube",
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)},
            }
        ],
        "contexts": [{"name": "localkube", "context": {"cluster": "localkube", "user": user}}],
        "current-context": "localkube",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def ensure(spec: Spec) -> None:
    """Create whatever is missing under ``spec.pki``: CA, certificates, SA key, kubeconfigs."""
    pki = spec.pki
    ca_cert, ca_key = _ca(pki)
    ca_pem = (pki / "ca.crt").read_bytes()
    for identity in identities(spec):
        crt, key = pki / f"{identity.stem}.crt", pki / f"{identity.stem}.key"
        if not (crt.exists() and key.exists()):
            cert_pem, key_pem = issue(identity, ca_cert, ca_key)
            _write(key, key_pem, 0o600)
            _write(crt, cert_pem)
    if not (pki / "sa.key").exists():
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(pki / "sa.key", _pem_key(sa_key), 0o600)
        pub = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(pki / "sa.pub", pub)
    for filename, stem in KUBECONFIGS.items():
        text = kubeconfig(
            spec.apiserver_url,
            ca_pem,
            (pki / f"{stem}.crt").read_bytes(),
            (pki / f"{stem}.key").read_bytes(),
            stem,
        )
        _write(pki / filename, text.encode(), 0o600)
    _write(spec.kubeconfig, (pki / "admin.conf").read_bytes(), 0o600)
