"""The pack registers its policies from ``policies/catalog.json`` and imports a rule's module only when
the rule first runs: the catalog must say what the rules say, the start-up must load no check code, and
a policy registered from the catalog must judge exactly as one made from the rule object."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs, StackValidationArgs
from pulumi_policy.policy import PolicyResource
from pulumi_policy.proxy import unknown_checking_proxy

from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES, catalog, pack


def test_the_catalog_says_what_the_rules_say() -> None:
    assert catalog.CATALOG.read_text(encoding="utf-8") == catalog.text(catalog.built()), (
        "run python -m pulumi_istio_egress.policies.catalog --write")


def test_policies_from_the_catalog_and_from_the_rules_register_the_same() -> None:
    def registered(made: list[Any]) -> list[tuple[Any, ...]]:
        return [(type(p).__name__, p.name, p.description, p.enforcement_level, p.severity, p.url, p.remediation_steps,
                 p.config_schema.properties if p.config_schema else None, getattr(p, "remediate", None) is not None)
                for p in made]

    assert registered(pack.policies()) == registered(pack.policies(RESOURCE_RULES, STACK_RULES))


# The modules of ours a pack process has loaded once its policies are registered (what
# `pulumi_istio_egress.pack.serve` runs before serving): no rule, model or webhook module.
START_UP = ["pulumi_istio_egress", "pulumi_istio_egress.extras", "pulumi_istio_egress.findings",
            "pulumi_istio_egress.pack", "pulumi_istio_egress.policies", "pulumi_istio_egress.policies.catalog",
            "pulumi_istio_egress.policies.pack", "pulumi_istio_egress.policies.sdk",
            "pulumi_istio_egress.policy_config"]


def test_the_pack_starts_without_importing_any_rule() -> None:
    probe = ("import json, sys\nfrom pulumi_istio_egress.pack import PACK_DIR\n"
             "from pulumi_istio_egress.policies.pack import policies\npolicies()\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pulumi_istio_egress'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout) == START_UP


WILDCARD = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "w", "namespace": "a"},
            "spec": {"hosts": ["*.example.com"], "location": "MESH_EXTERNAL", "resolution": "NONE",
                     "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}}


def _resource_violations(policy: Any, manifest: dict[str, Any]) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}",
                                  unknown_checking_proxy(copy.deepcopy(manifest)), "urn", "name", None, None, {})
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def _stack_violations(policy: Any, manifests: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    resources = [PolicyResource(f"kubernetes:{m['apiVersion']}:{m['kind']}", unknown_checking_proxy(copy.deepcopy(m)),
                                f"urn:{i}", f"r{i}", None, None, None, [], {})  # type: ignore[arg-type]
                 for i, m in enumerate(manifests)]
    policy.validate(StackValidationArgs(resources, {}, {}), lambda message, urn=None: found.append(f"{urn}: {message}"))
    return found


CONCRETE_NONE = {**WILDCARD, "spec": {**WILDCARD["spec"], "hosts": ["api.example.com"]}}


@pytest.mark.parametrize(("name", "manifest"), [("no-wildcard-hosts", WILDCARD), ("export-to-scoped", WILDCARD),
                                                ("dns-resolution-for-external-hosts", CONCRETE_NONE)])
def test_a_rule_from_the_catalog_judges_as_the_rule_itself(name: str, manifest: dict[str, Any]) -> None:
    lazy = next(p for p in pack.policies() if p.name == name)
    eager = pack.resource_policy(next(r for r in RESOURCE_RULES if r.name == name))
    assert _resource_violations(lazy, manifest) == _resource_violations(eager, manifest) != []


def test_a_stack_rule_from_the_catalog_judges_as_the_rule_itself() -> None:
    lazy = next(p for p in pack.policies() if p.name == "egress-via-gateway")
    eager = pack.stack_policy(next(r for r in STACK_RULES if r.name == "egress-via-gateway"))
    assert _stack_violations(lazy, [WILDCARD]) == _stack_violations(eager, [WILDCARD]) != []


def test_a_catalog_entry_naming_another_rule_is_refused_when_it_runs() -> None:
    entry = copy.deepcopy(next(e for e in catalog.load() if e["module"] == "wildcard_hosts"))
    entry["name"] = "wildcards-renamed"
    policy = pack._resource_policy(entry, pack._loader(entry))
    with pytest.raises(RuntimeError) as raised:
        _resource_violations(policy, WILDCARD)
    assert str(raised.value) == (
        "policies/catalog.json names 'wildcards-renamed' where wildcard_hosts has 'no-wildcard-hosts': "
        "run python -m pulumi_istio_egress.policies.catalog --write")
