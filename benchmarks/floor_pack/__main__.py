"""The floor for the policy-pack benchmarks: the istio-egress pack's policies (same names, kinds,
enforcement and config schemas, so the SDK does exactly the same work per call) with validate
callables that do nothing, and the cyclic GC off (the best the SDK path allows)."""

import gc

from pulumi_policy import PolicyPack, ResourceValidationPolicy, StackValidationPolicy

from pulumi_istio_egress.policies.pack import PACK_NAME, policies


def nothing(args: object, report: object) -> None:
    return None


def floor(policy: ResourceValidationPolicy | StackValidationPolicy) -> ResourceValidationPolicy | StackValidationPolicy:
    kind = ResourceValidationPolicy if isinstance(policy, ResourceValidationPolicy) else StackValidationPolicy
    return kind(name=policy.name, description=policy.description, validate=nothing,
                enforcement_level=policy.enforcement_level, severity=policy.severity,
                config_schema=policy.config_schema)


made = [floor(p) for p in policies()]
gc.disable()
PolicyPack(name=PACK_NAME, policies=made)
