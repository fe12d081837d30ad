"""``loadBalancer.localityLbSetting``: istiod's ``ValidateLocalityLbSetting``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._walk import Report, at, sub

_TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")
_FIX = "Write localities as 'region', 'region/zone' or 'region/zone/subzone', each at most once"


def check_locality_lb(r: Report, lb: Mapping[str, Any] | None, outlier: Mapping[str, Any] | None, path: str) -> None:
    del outlier  # istiod only warns when failover has no outlier detection
    if lb is None:
        return
    distribute = r.objs(lb, "distribute", path)
    failover = r.objs(lb, "failover", path)
    priority = r.strs(lb, "failoverPriority", path)
    if distribute and failover:
        r.add(
            path,
            None,
            "can not simultaneously specify 'distribute' and 'failover'",
            "Use either distribute or failover",
        )
        return
    if failover:
        for i, label in priority:
            if label in _TOPOLOGY_LABELS:
                r.add(
                    at(sub(path, "failoverPriority"), i),
                    label,
                    f"can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'",
                    "Remove failover, or remove the topology label from failoverPriority",
                )
                return
    sources: list[str] = []
    for i, item in distribute:
        where = at(sub(path, "distribute"), i)
        sources.append(r.text(item, "from", where))
        weights = r.int_map(item, "to", where)
        for locality, weight in weights.items():
            if not 1 <= weight <= 100:
                r.add(
                    sub(sub(where, "to"), locality),
                    weight,
                    "locality weight must be in range [1, 100]",
                    "Use weights from 1 to 100 that add up to 100",
                )
                return
        if sum(weights.values()) != 100:
            r.add(
                sub(where, "to"),
                weights,
                f"total locality weight {sum(weights.values())} != 100",
                "Make the weights in distribute.to add up to 100",
            )
            return
        problem = _localities_problem(list(weights))
        if problem is not None:
            r.add(sub(where, "to"), list(weights), problem, _FIX)
    problem = _localities_problem(sources)
    if problem is not None:
        r.add(sub(path, "distribute"), sources, problem, _FIX)
    for i, item in failover:
        where = at(sub(path, "failover"), i)
        source, target = r.text(item, "from", where), r.text(item, "to", where)
        if source == target:
            r.add(
                where,
                item,
                "locality lb failover settings must specify different regions",
                "Fail over to a different region",
            )
        if "/" in source or "/" in target:
            r.add(where, item, "locality lb failover only specify region", "Name regions only, without '/'")
        if "*" in source or "*" in target:
            r.add(where, item, "locality lb failover region should not contain '*' wildcard", "Name the regions")


def _localities_problem(localities: list[str]) -> str | None:
    """istiod's ``validateLocalities``: the first overlapping or malformed locality."""
    seen: dict[str, dict[str, set[str]]] = {}  # region -> zone -> subzones; '*' stands for "all"
    for locality in localities:
        stars = locality.count("*")
        if stars and (stars > 1 or not locality.endswith("*")):
            return f"locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
        if "*" in seen:
            return f"locality {locality} overlap with previous specified ones"
        parts = locality.split("/", 2)
        if any(not p for p in parts):
            return f"locality {locality} must not contain empty region/zone/subzone info"
        overlap = f"locality {locality} overlap with previous specified ones"
        region = parts[0]
        if len(parts) == 1:
            if region in seen:
                return overlap
            seen[region] = {"*": {"*"}}
            continue
        zones = seen.setdefault(region, {})
        if "*" in zones:
            return overlap
        zone = parts[1]
        if len(parts) == 2:
            if zone in zones:
                return overlap
            zones[zone] = {"*"}
            continue
        subzones = zones.setdefault(zone, set())
        if "*" in subzones or parts[2] in subzones:
            return overlap
        subzones.add(parts[2])
    return None
