"""Hypothesis strategies: EgressRouteArgs people would write, hostile ones, and malformed manifests."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from pulumi_istio_egress import TlsMode, parse_route, route_manifests
from pulumi_istio_egress.route import FIELDS

# --- plausible values -----------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def dns_labels(max_size: int = 20) -> st.SearchStrategy[str]:
    """RFC 1123 labels: lower-case alphanumerics and '-', alphanumeric at both ends."""
    inner = st.text(_ALNUM + "-", max_size=max_size - 2)
    return st.builds(lambda a, b, c: a + b + c if b or c else a,
                     st.sampled_from(_ALNUM), inner, st.sampled_from(_ALNUM)).map(lambda s: s[:max_size].rstrip("-"))


def fqdns(max_labels: int = 4) -> st.SearchStrategy[str]:
    """Lower-case fully qualified host names; the last label has a letter (Istio rejects an all-digit TLD).
    Sometimes long (to 250 characters), which exercises the hashed object names."""
    tld = st.builds(lambda a, b: a + b, st.sampled_from("abcdefghijklmnopqrstuvwxyz"), st.text(_ALNUM, max_size=5))
    short = st.builds(lambda labels, last: ".".join([*labels, last]),
                      st.lists(dns_labels(12), min_size=1, max_size=max_labels - 1), tld)
    long = st.builds(lambda labels, last: ".".join([*labels, last])[-250:].lstrip(".-") or "a.example.com",
                     st.lists(dns_labels(63), min_size=3, max_size=6), tld)
    return st.one_of(short, short, short, long).filter(_acceptable_host)


def _acceptable_host(host: str) -> bool:
    labels = host.split(".")
    return len(labels) >= 2 and all(labels) and not labels[-1].isdigit() and all(
        not (label.startswith("-") or label.endswith("-")) for label in labels)


def subdomains() -> st.SearchStrategy[str]:
    """Secret names: RFC 1123 subdomains."""
    return st.lists(dns_labels(15), min_size=1, max_size=3).map(".".join)


namespaces = dns_labels(30).filter(lambda s: s not in ("*", ".", "~"))


def service_fqdns(namespace: str) -> st.SearchStrategy[str]:
    """A Kubernetes Service in ``namespace``: <name>.<namespace>.svc.<cluster domain>."""
    domain = st.sampled_from(["cluster.local", "mesh.internal", "cluster.local."])
    return st.builds(lambda name, d: f"{name}.{namespace}.svc.{d}", dns_labels(20), domain)


def gateway_services(namespace: str) -> st.SearchStrategy[str]:
    """Anything a user might pass as gateway_service: the right Service, one in another namespace, a short
    name, an external-looking host, near misses."""
    return st.one_of(service_fqdns(namespace), service_fqdns("other-ns"), dns_labels(20), fqdns(),
                     st.sampled_from([f"gw.{namespace}", f"gw.{namespace}.svc", "istio-egressgateway"]))
ports = st.integers(min_value=1, max_value=65535)
label_keys = st.one_of(dns_labels(20), st.builds(lambda p, n: f"{p}/{n}", subdomains(), dns_labels(20)))
label_values = st.one_of(st.just(""), dns_labels(20))


@st.composite
def valid_args(draw: st.DrawFn) -> dict[str, Any]:
    """Args that respect every documented rule (mode-specific fields, distinct ports, accounts in client
    namespaces, clients outside the gateway namespace). The validator should accept them; the properties
    hold either way."""
    mode = draw(st.sampled_from(list(TlsMode)))
    args: dict[str, Any] = {
        "host": draw(fqdns()),
        "tls_mode": draw(st.sampled_from([mode, mode.value])),
        "client_namespaces": draw(st.lists(namespaces.filter(lambda ns: ns != "istio-system"), min_size=1,
                                           max_size=4, unique=True)),
    }
    if draw(st.booleans()):
        args["port"] = draw(ports)
    if draw(st.booleans()):
        # Clients never run in the gateway's namespace (it sees the host's TLS port).
        args["gateway_namespace"] = draw(namespaces.filter(lambda ns: ns not in args["client_namespaces"]))
    if draw(st.booleans()):
        args["gateway_selector"] = draw(st.dictionaries(label_keys, label_values, min_size=1, max_size=3))
    if draw(st.booleans()):
        args["gateway_service"] = draw(service_fqdns(args.get("gateway_namespace", "istio-system")))
    if mode is TlsMode.PASSTHROUGH:
        return args
    if mode is TlsMode.MUTUAL:
        args["client_credential_name"] = draw(subdomains())
    elif draw(st.booleans()):
        args["ca_credential_name"] = draw(subdomains())
    if draw(st.booleans()):
        args["subject_alt_names"] = draw(st.lists(fqdns(), max_size=3, unique=True))
    if draw(st.booleans()):
        args["sni"] = draw(fqdns())
    if draw(st.booleans()):
        args["terminate_credential_name"] = draw(subdomains())
        return args
    port = args.get("port", 443)
    if draw(st.booleans()):
        args["http_port"] = draw(ports.filter(lambda p: p != port))
    if draw(st.booleans()):
        args["authorization_policy"] = True
        accounts = st.builds(lambda ns, sa: f"{ns}/{sa}", st.sampled_from(args["client_namespaces"]), subdomains())
        if draw(st.booleans()):
            args["client_service_accounts"] = draw(st.lists(accounts, min_size=1, max_size=3, unique=True))
            if draw(st.booleans()):
                args["trust_domain"] = draw(fqdns())
    return args


# --- hostile values --------------------------------------------------------------------------------

_NASTY_STRINGS = [
    "", " ", "\n", "api.stripe.com\n", "https://api.stripe.com", "api.stripe.com:443", "api.stripe.com/v1",
    "*.stripe.com", "*", "API.Stripe.com", "api.stripe.com.", "api..stripe.com", "-api.stripe.com", "1.2.3.4",
    "[::1]", "api_x.stripe.com", "ăpi.strïpe.com", "xn--pi-2ka.example", "a" * 64 + ".com", "a." * 130 + "com",
    "payments\x00", "mesh", ".", "~", "PASSTHROUGH ", "simple", "Simple", "MUTUAL\n", "istio-system/", "ns/",
    "/sa", "ns//sa", "ns/sa/extra", "\u202eevil", "0", "-1", "65536", "443", "true",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(_NASTY_STRINGS), st.binary(max_size=10),
    st.sampled_from([object(), TlsMode.SIMPLE, 443.0, 443.5, -0.0, 2**70, Ellipsis]),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.tuples(inner, inner), st.frozensets(st.integers(), max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers(), st.none()), inner, max_size=4),
    ),
    max_leaves=12,
)


def _huge_list(item: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.integers(min_value=200, max_value=2000).flatmap(lambda n: item.map(lambda x: [x] * n))


@st.composite
def hostile_args(draw: st.DrawFn) -> Any:
    """Anything: a plausible base with fields replaced by garbage or near-misses, unknown keys, huge
    lists, or not a mapping at all."""
    kind = draw(st.integers(min_value=0, max_value=9))
    if kind == 0:
        return draw(garbage)
    args: dict[Any, Any] = dict(draw(valid_args()))
    # gateway_service has its own property (test_properties); left in, a mutated gateway_namespace would make
    # every failure here that one.
    args.pop("gateway_service", None)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        field = draw(st.sampled_from([*(f for f in FIELDS if f != "gateway_service"), "hosts", "tlsMode", "", 7]))
        value = draw(st.one_of(
            garbage, st.sampled_from(_NASTY_STRINGS),
            st.lists(st.sampled_from(_NASTY_STRINGS), max_size=4),
            _huge_list(st.sampled_from(["payments", "a", "*", None])),
            st.lists(namespaces, min_size=50, max_size=120, unique=True),  # many valid client namespaces
        ))
        if draw(st.booleans()):
            args.pop(field, None)
        else:
            args[field] = value
    return args


# --- manifests ---------------------------------------------------------------------------------------

SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRINGS = ["04da6b54-80e4-46f7-96ec-b56ff0331ba9", "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"]
API_VERSIONS = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
                "security.istio.io/v1", "security.istio.io/v1beta1", "v1", "apps/v1", "", "networking.istio.io"]
KINDS = ["ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "Sidecar", "AuthorizationPolicy",
         "Service", "Deployment", "", "serviceentry"]


def json_values(finite: bool) -> st.SearchStrategy[Any]:
    """JSON-like values, with secret-shaped dicts, unknown sentinels and odd strings mixed in."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=not finite, allow_infinity=not finite), st.text(max_size=20),
        st.sampled_from(_NASTY_STRINGS + UNKNOWN_STRINGS),
        # A secret as it looks on the wire, should one reach a rule unwrapped; a fresh dict each time.
        st.builds(lambda v: {SECRET_KEY: SECRET_SIG, "value": v}, st.text(max_size=8)),
    )
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=15)


_route_examples = [route_manifests(parse_route(a)) for a in (
    {"host": "api.stripe.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["payments"]},
    {"host": "api.github.com", "tls_mode": "SIMPLE", "client_namespaces": ["ci", "builds"],
     "authorization_policy": True, "client_service_accounts": ["ci/runner"], "subject_alt_names": ["api.github.com"]},
    {"host": "hooks.slack.com", "tls_mode": "SIMPLE", "client_namespaces": ["alerts"],
     "terminate_credential_name": "inspect"},
    {"host": "api.bank.example", "tls_mode": "MUTUAL", "client_namespaces": ["payments"],
     "client_credential_name": "bank", "sni": "mtls.bank.example"},
)]
EXAMPLE_MANIFESTS = [m for route in _route_examples for m in route]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def malformed_manifests(draw: st.DrawFn, finite: bool = False) -> dict[str, Any]:
    """A real route object with a few edits (deleted keys, wrong types, unknown values, huge lists), or
    a random object of an Istio kind."""
    values = json_values(finite)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return {"apiVersion": draw(st.sampled_from(API_VERSIONS)), "kind": draw(st.sampled_from(KINDS)),
                "metadata": draw(st.one_of(values, st.fixed_dictionaries({"name": values, "namespace": values}))),
                "spec": draw(st.one_of(values, st.dictionaries(st.text(max_size=12), values, max_size=6)))}
    manifest = copy.deepcopy(draw(st.sampled_from(EXAMPLE_MANIFESTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_paths(manifest)[1:]))
        parent: Any = manifest
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.integers(min_value=0, max_value=3))
        if action == 0 and isinstance(parent, dict):
            del parent[key]
        elif action == 1:
            current = parent[key]
            parent[key] = [copy.deepcopy(current) for _ in range(draw(st.integers(min_value=50, max_value=300)))]
        else:
            parent[key] = copy.deepcopy(draw(values))
    return manifest


# --- manifests as text: what kubectl's YAML reader must cope with (issue 12) ---------------------

_YAML_FRAGMENTS = [
    "a: ", "- ", "&x ", "*x", "<<: ", "? ", "!!binary ", "!!int ", "!!str ", "!custom ", "---\n", "...\n", "[", "]",
    "{", "}", ", ", ": ", "\n", "\n  ", "'q'", '"\\e[31m"', "y", "0o26", "0x1F", "2024-01-01", ".nan", "1e400", "~",
    "items: ", "kind: List", "apiVersion: v1", "metadata: {name: n}", "#c", "|\n  x", "\t", "\u0085", "\ufeff",
]


def yaml_texts() -> st.SearchStrategy[str]:
    """Texts stitched from YAML's sharp edges: anchors, merges, tags, flow and block, lists, odd scalars."""
    return st.lists(st.sampled_from(_YAML_FRAGMENTS), max_size=40).map("".join)


def plain_texts() -> st.SearchStrategy[str]:
    """Any text a manifest string may hold (no lone surrogates: they are not Unicode text)."""
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def config_maps() -> st.SearchStrategy[dict[str, Any]]:
    """ConfigMaps whose keys and values are arbitrary text, some of it spelt like numbers or booleans."""
    tricky = st.sampled_from(["y", "no", "0o17", "0X1F", "1_0", "08", "1e3", ".5", "~", "", "2024-01-01", "<<"])
    texts = st.one_of(plain_texts(), tricky)
    return st.builds(lambda data: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": data},
                     st.dictionaries(texts, texts, max_size=6))
