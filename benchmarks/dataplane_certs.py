"""Throw-away PKI for the data-plane benchmark, generated at run time into a temporary directory.

Three CAs, as in a mesh with an egress gateway: the external host's public CA, the mesh CA (istiod's, for the
sidecar-to-gateway mTLS leg) and an inspection CA whose certificate the gateway presents when it terminates
the app's TLS. Every key is of one kind per run (RSA-2048 or ECDSA P-256), so a run measures that kind. No
key is ever written outside the directory given, and nothing here is committed.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "api.example.test"
"""The external host. Only ever resolved by us: every connection goes to 127.0.0.1."""
GATEWAY_SPIFFE = "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account"
SIDECAR_SPIFFE = "spiffe://cluster.local/ns/payments/sa/default"


class KeyType(StrEnum):
    RSA2048 = "rsa2048"
    ECDSA_P256 = "ecdsa-p256"


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    external_ca: Path
    """Trust anchor of the external host (a DestinationRule's ca.crt, or the system store)."""
    mesh_ca: Path
    """istiod's root: the sidecar-to-gateway mTLS leg, both directions."""
    inspection_ca: Path
    """What apps must trust when the gateway terminates their TLS."""
    upstream: Pair
    """The external host's server certificate (SAN = HOST)."""
    gateway_workload: Pair
    """The gateway's mesh identity, served on the mTLS leg."""
    sidecar_workload: Pair
    """A client sidecar's mesh identity."""
    gateway_terminate: Pair
    """The certificate in the Gateway's credentialName for termination (SAN = HOST, inspection CA)."""
    gateway_client: Pair
    """MUTUAL: the client certificate the gateway presents to the host (issued by the external CA)."""


def _key(kind: KeyType) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind is KeyType.RSA2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _builder(subject: str, issuer: x509.Name, public_key: object) -> x509.CertificateBuilder:
    now = _dt.datetime.now(_dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1)))


class _Ca:
    def __init__(self, name: str, kind: KeyType, out: Path) -> None:
        self.kind = kind
        self.key = _key(kind)
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (_builder(name, self.name, self.key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.path = out / f"{name}.crt"
        self.path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, out: Path, *, dns: str | None = None, uri: str | None = None,
              server: bool = False, client: bool = False) -> Pair:
        key = _key(self.kind)
        names: list[x509.GeneralName] = []
        if dns:
            names.append(x509.DNSName(dns))
        if uri:
            names.append(x509.UniformResourceIdentifier(uri))
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        cert = (_builder(stem, self.name, key.public_key())
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        pair = Pair(out / f"{stem}.crt", out / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, pair.key)
        return pair


def generate(kind: KeyType, out: Path) -> Pki:
    """Every certificate the four gateway configurations need, keys of one kind, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    external = _Ca("external-ca", kind, out)
    mesh = _Ca("mesh-ca", kind, out)
    inspection = _Ca("inspection-ca", kind, out)
    return Pki(
        external_ca=external.path,
        mesh_ca=mesh.path,
        inspection_ca=inspection.path,
        upstream=external.issue("upstream", out, dns=HOST, server=True),
        gateway_workload=mesh.issue("gateway-workload", out, uri=GATEWAY_SPIFFE, server=True, client=True),
        sidecar_workload=mesh.issue("sidecar-workload", out, uri=SIDECAR_SPIFFE, server=True, client=True),
        gateway_terminate=inspection.issue("gateway-terminate", out, dns=HOST, server=True),
        gateway_client=external.issue("gateway-client", out, dns="egress.example.test", client=True),
    )
