"""TLS settings: a Gateway server's (or Sidecar ingress') ``tls`` and a DestinationRule's ``tls``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._walk import Report, at, nonempty, q, sub

SERVER_TLS_MODES = ("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
CLIENT_TLS_MODES = ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
TLS_VERSIONS = ("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
_TERMINATING = ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL")

_ISTIO_MUTUAL_FIELDS = (
    ("serverCertificate", "server certificate"),
    ("privateKey", "private key"),
    ("caCertificates", "CA bundle"),
    ("tlsCertificates", "tlsCertificates"),
    ("credentialName", "credentialName"),
    ("credentialNames", "credentialNames"),
)


def server_tls_mode(r: Report, tls: Mapping[str, Any] | None, path: str) -> str | None:
    """The server TLS mode (``PASSTHROUGH`` when unset, as protobuf's zero value)."""
    return r.enum(tls, "mode", path, SERVER_TLS_MODES)


def check_server_tls(r: Report, tls: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validateTLSOptions`` (errors only; its warnings do not block an apply)."""
    if tls is None:
        return
    mode = server_tls_mode(r, tls, path)
    r.enum(tls, "minProtocolVersion", path, TLS_VERSIONS)
    r.enum(tls, "maxProtocolVersion", path, TLS_VERSIONS)
    r.strs(tls, "cipherSuites", path)
    cert = r.text(tls, "serverCertificate", path)
    key = r.text(tls, "privateKey", path)
    ca = r.text(tls, "caCertificates", path)
    crl = r.text(tls, "caCrl", path)
    credential = r.text(tls, "credentialName", path)
    credentials = r.strs(tls, "credentialNames", path)
    certificates = r.objs(tls, "tlsCertificates", path)

    if mode == "ISTIO_MUTUAL":
        # The mesh's own certificates are used; any other certificate source is a mistake.
        for field, label in _ISTIO_MUTUAL_FIELDS:
            if nonempty(tls, field) if field in ("tlsCertificates", "credentialNames") else r.text(tls, field, path):
                r.add(
                    sub(path, field),
                    tls[field],
                    f"ISTIO_MUTUAL TLS cannot have associated {label}",
                    f"Remove {field}: ISTIO_MUTUAL uses the mesh's workload certificates",
                )
        return

    sources = sum((bool(cert and key), bool(credential), bool(credentials), bool(certificates)))
    if sources > 1:
        r.add(
            path,
            None,
            "only one of credential_name, credential_names, server_certificate/private_key, "
            "tls_certificates should be specified",
            "Keep one certificate source, normally credentialName",
        )
    if mode in _TERMINATING and (credential or credentials):
        return  # the certificates come from the named Secret(s)

    if mode in _TERMINATING:
        prefix = "SIMPLE TLS" if mode == "SIMPLE" else "MUTUAL TLS"
        if mode != "SIMPLE" and not ca:
            r.add(
                sub(path, "caCertificates"),
                None,
                f"{prefix} requires a client CA bundle",
                "Set credentialName to a Secret holding tls.crt, tls.key and ca.crt, or set caCertificates",
            )
        pairs = [(at(sub(path, "tlsCertificates"), i), c) for i, c in certificates] if certificates else [(path, tls)]
        for where, pair in pairs:
            if not r.text(pair, "serverCertificate", where):
                r.add(
                    sub(where, "serverCertificate"),
                    None,
                    f"{prefix} requires a server certificate",
                    "Set credentialName to the Secret with the server certificate and key "
                    "(in the gateway's namespace), or set serverCertificate and privateKey",
                )
            if not r.text(pair, "privateKey", where):
                r.add(
                    sub(where, "privateKey"),
                    None,
                    f"{prefix} requires a private key",
                    "Set credentialName to the Secret with the server certificate and key "
                    "(in the gateway's namespace), or set serverCertificate and privateKey",
                )
    if crl:
        if credential:
            r.add(
                sub(path, "caCrl"),
                crl,
                "CRL is not supported with credentialName. CRL has to be specified in the credential",
                "Remove caCrl and put ca.crl into the credential Secret",
            )
        if mode == "SIMPLE":
            r.add(sub(path, "caCrl"), crl, "CRL is not supported with SIMPLE TLS", "Remove caCrl, or use MUTUAL TLS")


def check_client_tls(r: Report, tls: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``ValidateTLS`` for a DestinationRule's (client side) TLS settings."""
    if tls is None:
        return
    mode = r.enum(tls, "mode", path, CLIENT_TLS_MODES)
    credential = r.text(tls, "credentialName", path)
    client_cert = r.text(tls, "clientCertificate", path)
    key = r.text(tls, "privateKey", path)
    ca = r.text(tls, "caCertificates", path)
    crl = r.text(tls, "caCrl", path)
    r.text(tls, "sni", path)
    sans = r.strs(tls, "subjectAltNames", path)
    skip_verify = r.flag(tls, "insecureSkipVerify", path)

    if credential.startswith("configmap://"):
        _check_configmap_credential(r, credential, sub(path, "credentialName"))
    if skip_verify:
        if mode == "SIMPLE" and (ca or credential or sans):
            r.add(
                sub(path, "insecureSkipVerify"),
                True,
                "cannot specify CaCertificates or CredentialName or SubjectAltNames when "
                "InsecureSkipVerify is set true",
                "Remove insecureSkipVerify, or remove caCertificates, credentialName and subjectAltNames",
            )
        if mode == "MUTUAL" and (ca or sans):
            r.add(
                sub(path, "insecureSkipVerify"),
                True,
                "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true",
                "Remove insecureSkipVerify, or remove caCertificates and subjectAltNames",
            )
    if mode in ("SIMPLE", "MUTUAL") and credential:
        if client_cert or ca or key or crl:
            r.add(
                path,
                None,
                "cannot specify client certificates or CA certificate or CA CRL If credentialName is set",
                "Keep credentialName and remove clientCertificate, privateKey, caCertificates and caCrl "
                "(the Secret holds them)",
            )
        return
    if mode == "MUTUAL":
        if not client_cert:
            r.add(
                sub(path, "clientCertificate"),
                None,
                "client certificate required for mutual tls",
                "Set credentialName to a Secret with tls.crt, tls.key and ca.crt (in the namespace of the "
                "proxy that originates TLS), or set clientCertificate and privateKey",
            )
        if not key:
            r.add(
                sub(path, "privateKey"),
                None,
                "private key required for mutual tls",
                "Set credentialName to a Secret with tls.crt, tls.key and ca.crt, or set privateKey",
            )


def _check_configmap_credential(r: Report, credential: str, path: str) -> None:
    """``configmap://<namespace>/<name>`` must name a ConfigMap in the DestinationRule's own namespace."""
    ns, slash, rest = credential.removeprefix("configmap://").partition("/")
    name = rest.split("/", 1)[0]
    if not slash:
        problem = f"invalid resource name {q(credential)}. Expected namespace and name"
    elif not ns:
        problem = f"invalid resource name {q(credential)}. Expected namespace"
    elif not name:
        problem = f"invalid resource name {q(credential)}. Expected name"
    elif ns != r.namespace:
        problem = f"namespace must match the configuration namespace {q(r.namespace)}"
    else:
        return
    r.add(
        path,
        credential,
        f"invalid configmap:// credentialName: {problem}",
        f"Write it as configmap://{r.namespace}/<configmap name>",
    )
