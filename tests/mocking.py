"""Run Pulumi code under Pulumi's own mocks and record exactly what it registers.

The one place the tests reach into pulumi's mock internals: ``RecordingMonitor`` subclasses
``pulumi.runtime.mocks.MockMonitor`` (its ``RegisterResource``/``RegisterResourceOutputs`` request
fields) and ``_deserialize`` calls the private ``mocks._ensure_event_loop``. Checked against pulumi
3.272 (pyproject: ``pulumi>=3.272,<4``); ``tests/test_component.py``'s
``test_mock_internals_still_exist`` fails by name when an upgrade removes them. Every test runs
Pulumi code through ``run``, never ``set_mocks`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from pulumi_istio_egress.jsontypes import whole_number


def plain(value: Any) -> Any:
    """Mocks hand numbers back as floats (443 -> 443.0); restore integers for comparison."""
    if isinstance(value, float) and (number := whole_number(value)) is not None:
        return number
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Registered:
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]


@dataclass
class Recording(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}

    def by_name(self) -> dict[str, Registered]:
        return {r.name: r for r in self.resources}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records the parent of each registration and every component's registered outputs."""

    def __init__(self, recording: Recording) -> None:
        super().__init__(recording)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            parent_type = request.parent.split("::")[2].split("$")[-1] if request.parent else ""
            inputs = plain(_deserialize(request.object))
            self.recording.resources.append(Registered(request.type, request.name, parent_type, inputs))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        name = request.urn.split("::")[-1]
        self.recording.outputs[name] = plain(_deserialize(request.outputs))
        return super().RegisterResourceOutputs(request)


def _deserialize(struct: Any) -> dict[str, Any]:
    pulumi_mocks._ensure_event_loop()
    return dict(rpc.deserialize_properties(struct))


def run(program: Callable[[], Any], *, preview: bool = False, recording: Recording | None = None) -> Recording:
    """Run ``program`` under fresh mocks, wait for every registration, return what was registered.

    Exceptions the program or its Outputs raise propagate; pass ``recording`` to see what was
    registered before they did.
    """
    recording = Recording() if recording is None else recording
    pulumi.runtime.set_mocks(recording, preview=preview, monitor=RecordingMonitor(recording))

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> Any:
        return program()

    body()
    return recording


def load_case(path: Path) -> dict[str, Any]:
    """A fixture case: ``description``, ``name``, ``args`` and the ``expected`` children."""
    return dict(yaml.safe_load(path.read_text()))


def children(resources: list[Registered], component: str) -> list[dict[str, Any]]:
    """The children a component of type ``component`` registered, as fixture entries, by name."""
    found = [{"type": r.type, "name": r.name, "manifest": r.inputs} for r in resources if r.parent == component]
    return sorted(found, key=lambda c: c["name"])


def registers_exactly(path: Path, declare: Callable[[str, Any], object],
                      component: str) -> tuple[dict[str, Any], Recording]:
    """Declare the case's component (``declare(name, args)``) under mocks and assert that its
    children are the case's ``expected``; ``UPDATE_GOLDEN=1`` rewrites ``expected`` instead."""
    case = load_case(path)
    recording = run(lambda: declare(case["name"], case["args"]))
    got = children(recording.resources, component)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        header = {k: case[k] for k in ("description", "name", "args")}
        path.write_text(yaml.safe_dump(header, sort_keys=False, width=120)
                        + yaml.safe_dump({"expected": got}, sort_keys=True, width=120))
    assert got == case["expected"]
    return case, recording
