"""Policy-pack timings in this (fresh) interpreter; prints one JSON line.

``policy_worker.py startup K [DIR]``  K starts of the pack in DIR (default ours): spawn to GetAnalyzerInfo answered
``policy_worker.py analyze N``        per-resource cost over N objects: in-process and over gRPC,
                                      with and without the CRD (schema + CEL) layer
``policy_worker.py stack K SIZE...``  AnalyzeStack over gRPC (median of K) per SIZE, plus where the
                                      time goes at the largest SIZE (measured in-process)
Every run asserts the benchmark stack is clean, so the timings are of the no-violation path.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CRDS, PATTERNS, ROOT, PolicyPackProcess, Resource, _struct, reconcile_config, route_args
from google.protobuf import json_format
from pulumi_policy import ResourceValidationArgs, StackValidationArgs, StackValidationPolicy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyResource
from pulumi_policy.proxy import unknown_checking_proxy

from pulumi_istio_egress import lockdown_manifests, parse_lockdown, parse_route, route_manifests
from pulumi_istio_egress.findings import Manifest
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES, pack
from pulumi_istio_egress.policies.sdk import NotApplicableError

PACK = ROOT / "policy"
FLOOR = Path(__file__).resolve().parent / "floor_pack"
"""Our pack's policies doing nothing, GC off: the floor of every pack figure."""


def manifests(n: int) -> list[Manifest]:
    """A clean stack of at least n objects: whole routes (never half of one, which would be a violation),
    then the route mix's client namespaces locked down (EgressLockdown's objects, which the egress-lockdown
    stack rule asks for). Routes first, so the first object is an Istio one (its Analyze loads the CRDs)."""
    namespaces = sorted({ns for i in range(len(PATTERNS)) for ns in route_args(i)["client_namespaces"]})
    lockdown = [m for ns in namespaces for m in lockdown_manifests(parse_lockdown({"namespace": ns}))]
    out: list[Manifest] = []
    i = 0
    while len(out) + len(lockdown) < n:
        out += route_manifests(parse_route(route_args(i)))
        i += 1
    return out + lockdown


def pack_cpu(process: PolicyPackProcess) -> float:
    """CPU seconds the pack process has used (user + system, with reaped children), from /proc: the
    server's own work, which other tenants of a shared machine disturb far less than wall time."""
    plugin = process._process  # private to the client; a benchmark may look
    assert plugin is not None and plugin.pid is not None
    fields = Path(f"/proc/{plugin.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def clock(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def crds(on: bool) -> None:
    """The pack and istio-valid read $ISTIO_CRDS: set it for the CRD layer, drop it otherwise."""
    if on:
        os.environ["ISTIO_CRDS"] = CRDS
    else:
        os.environ.pop("ISTIO_CRDS", None)


def startup(k: int, pack_dir: Path) -> dict[str, Any]:
    crds(True)
    times = []
    for _ in range(k):
        start = time.perf_counter()
        with PolicyPackProcess(pack_dir):
            times.append(time.perf_counter() - start)
    return {"startup": times}


def _violations_in_process(objects: list[Manifest], config: dict[str, dict[str, Any]]) -> int:
    found = 0
    for m in objects:
        for rule in RESOURCE_RULES:
            found += len(list(rule.check(m, {**rule.defaults(), **config.get(rule.name, {})})))
    return found


def analyze(n: int) -> dict[str, Any]:
    objects = manifests(n)
    out: dict[str, Any] = {"objects": len(objects)}
    for label, on in (("crds", True), ("webhook_only", False)):
        crds(on)
        config = {"istio-valid": {"crdFiles": [CRDS] if on else []}}
        _violations_in_process(objects[:20], config)  # load the CRDs (lru_cache) outside the clock
        assert _violations_in_process(objects, config) == 0
        out[f"rules_{label}"] = clock(lambda c=config: _violations_in_process(objects, c)) / len(objects)

        policies = [p for p in pack.policies() if not isinstance(p, StackValidationPolicy)]
        wrapped = [(unknown_checking_proxy(m), Resource.from_manifest(m)) for m in objects]

        out[f"not_applicable_{label}"] = _validate_all(wrapped, policies) / len(objects)  # per object
        out[f"validate_{label}"] = clock(lambda w=wrapped, p=policies: _validate_all(w, p)) / len(objects)

        resources = [Resource.from_manifest(m) for m in objects]
        with PolicyPackProcess(PACK) as running, PolicyPackProcess(FLOOR) as floor:
            for process in (running, floor):
                process.configure(reconcile_config(process.info, None))
            first = clock(lambda r=running, first=resources[0]: r.analyze(first))
            floor.analyze(resources[0])
            per: dict[str, list[float]] = {"ours": [], "floor": []}
            for i, r in enumerate(resources):
                for which in (("ours", "floor") if i % 2 == 0 else ("floor", "ours")):
                    process = running if which == "ours" else floor
                    start = time.perf_counter()
                    assert process.analyze(r) == []
                    per[which].append(time.perf_counter() - start)
        out[f"grpc_{label}"] = {"median": statistics.median(per["ours"]), "mean": statistics.fmean(per["ours"]),
                                "first": first, "floor_median": statistics.median(per["floor"])}
    return out


def _validate_all(wrapped: list[tuple[Any, Resource]], policies: list[Any]) -> int:
    """Every resource policy on every object, as the SDK's ``Analyze`` calls them; the number of calls
    that said they had nothing to judge."""
    not_applicable = 0
    for props, r in wrapped:
        for policy in policies:
            args = ResourceValidationArgs(r.type, props, r.urn, r.name, None, None, {}, {})  # type: ignore[arg-type]
            not_applicable += _call(policy, args)
    return not_applicable


def _call(policy: Any, args: Any) -> int:
    """One validate call, handled as pulumi-policy's servicer does (``Analyze``/``AnalyzeStack`` in
    ``pulumi_policy/policy.py``): ``args.not_applicable(reason)`` raises, the SDK records the policy as
    not applicable and goes on with the next one. 1 when it did, else 0."""
    try:
        policy.validate(args, _no_violation)
    except NotApplicableError:
        return 1
    return 0


def _no_violation(message: str, urn: str | None = None) -> None:
    raise AssertionError(f"unexpected violation: {message}")


def stack(k: int, sizes: list[int]) -> dict[str, Any]:
    crds(True)
    out: dict[str, Any] = {}
    biggest = manifests(max(sizes))
    with PolicyPackProcess(PACK) as running, PolicyPackProcess(FLOOR) as floor:
        for process in (running, floor):
            process.configure(reconcile_config(process.info, None))
        for size in sizes:
            resources = [Resource.from_manifest(m) for m in manifests(size)]
            times: dict[str, list[float]] = {"ours": [], "floor": [], "ours_cpu": [], "floor_cpu": []}
            for round_ in range(k):
                for which in (("ours", "floor") if round_ % 2 == 0 else ("floor", "ours")):
                    process = running if which == "ours" else floor
                    start, cpu = time.perf_counter(), pack_cpu(process)
                    assert process.analyze_stack(resources) == []
                    times[which].append(time.perf_counter() - start)
                    times[f"{which}_cpu"].append(pack_cpu(process) - cpu)
            out[str(size)] = {"objects": len(resources), "times": times["ours"], "floor": times["floor"],
                              "cpu": times["ours_cpu"], "floor_cpu": times["floor_cpu"]}

    # Where the time of one AnalyzeStack over `biggest` goes, each part measured on its own.
    resources = [Resource.from_manifest(m) for m in biggest]
    parts: dict[str, float] = {"objects": float(len(biggest))}
    structs: list[Any] = []
    parts["client_marshal"] = clock(lambda: structs.extend(_struct(r.props, skip_internal=True) for r in resources))
    proxied: list[Any] = []
    # pulumi-policy's AnalyzeStack does this once per stack policy (pulumi_policy/policy.py AnalyzeStack).
    parts["sdk_deserialize_once"] = clock(lambda: proxied.extend(
        unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(s))) for s in structs))
    stack_policies = [p for p in pack.policies() if isinstance(p, StackValidationPolicy)]
    parts["sdk_deserialize_per_pack"] = parts["sdk_deserialize_once"] * len(stack_policies)
    policy_resources = [PolicyResource(r.type, p, r.urn, r.name, None, None, None, [], {})  # type: ignore[arg-type]
                        for r, p in zip(resources, proxied, strict=True)]
    plain = [pack.to_manifest(r.type, p)[0] for r, p in zip(resources, proxied, strict=True)]
    parts["to_manifest_once"] = clock(lambda: [pack.to_manifest(r.type, p) for r, p in zip(resources, proxied,
                                                                                          strict=True)])
    for rule in STACK_RULES:
        parts[f"rule:{rule.name}"] = clock(lambda r=rule: list(r.check(plain, r.defaults())))
    args = StackValidationArgs(policy_resources, {}, {})
    parts["stack_validate_callables"] = clock(lambda: [_call(p, args) for p in stack_policies])
    gc.collect()
    out["parts"] = parts
    return out


def main() -> None:
    what = sys.argv[1]
    if what == "startup":
        result = startup(int(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else PACK)
    elif what == "analyze":
        result = analyze(int(sys.argv[2]))
    else:
        result = stack(int(sys.argv[2]), [int(s) for s in sys.argv[3:]])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
