"""One registration run in this (fresh) interpreter: ``register_worker.py egress|hand N``.

Prints ``{"seconds", "cpu", "gc", "resources"}``: wall time of the program until every registration
finished, its CPU time, the part of it spent in the cyclic garbage collector, and the count.
Imports and building the plain args/manifests are outside the timed region, as is mock setup.
``egress`` declares N EgressRoutes; ``hand`` registers the same child objects with pulumi_kubernetes
CustomResource (plain dicts: the floor) under one plain ComponentResource each, which registers the
same outputs as literals (a hand-written program that exports what EgressRoute exports).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pulumi
import pulumi.runtime
from common import GcClock, routes
from pulumi_kubernetes.apiextensions import CustomResource

from pulumi_istio_egress import EgressRoute, parse_route, route_manifests
from pulumi_istio_egress.component import TYPE_TOKEN, _outputs
from pulumi_istio_egress.manifests import keyed_manifests, object_keys


class Counting(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.count = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.count += 1
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def main() -> None:
    variant, n = sys.argv[1], int(sys.argv[2])
    declared = routes(n)
    # The hand-written program's literals: built before the clock starts (a literal costs ~nothing).
    children = {
        name: list(zip(object_keys(r.originates, r.client_namespaces, r.authorization_policy), route_manifests(r),
                       strict=True))
        for name, r in ((name, parse_route(args)) for name, args in declared.items())
    }
    exported = {name: _outputs(keyed_manifests(parse_route(args))) for name, args in declared.items()}

    def egress() -> None:
        for name, args in declared.items():
            EgressRoute(name, args)  # type: ignore[arg-type]

    def hand() -> None:
        for name, objects in children.items():
            parent = pulumi.ComponentResource(TYPE_TOKEN, name, {}, None)
            opts = pulumi.ResourceOptions(parent=parent)
            for key, manifest in objects:
                CustomResource(f"{name}-{key.key}", api_version=key.api_version, kind=key.kind,
                               metadata=manifest["metadata"], spec=manifest["spec"], opts=opts)
            for field, value in exported[name].items():
                setattr(parent, field, pulumi.Output.from_input(value))
            parent.register_outputs(exported[name])

    program = {"egress": egress, "hand": hand}[variant]
    mocks = Counting()
    pulumi.runtime.set_mocks(mocks, preview=False)

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> None:
        program()

    clock = GcClock()
    start, cpu = time.perf_counter(), time.process_time()
    body()
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                      "gc": clock.total, "resources": mocks.count}))


if __name__ == "__main__":
    main()
