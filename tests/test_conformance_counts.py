"""minProperties/maxProperties and minItems/maxItems in the API server's words, and which of them
keep the CEL rules from running (too many does, too few does not)."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_istio_egress.conformance.messages import Run
from pulumi_istio_egress.conformance.schema import Schema
from pulumi_istio_egress.conformance.validation import check
from pulumi_istio_egress.findings import Finding

OBJECT = {"type": "object", "minProperties": 2, "maxProperties": 3, "additionalProperties": {"type": "string"}}
ARRAY = {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}}


@pytest.mark.parametrize(("schema", "value", "findings", "blocked"), [
    pytest.param(OBJECT, {"a": "1"}, [Finding(
        "spec.labels", {"a": "1"}, "Invalid value: 1: spec.labels in body should have at least 2 properties",
        "Give it at least 2 entries, or remove it")], False, id="minProperties"),
    pytest.param(OBJECT, {"a": "1", "b": "2", "c": "3", "d": "4"}, [Finding(
        "spec.labels", {"a": "1", "b": "2", "c": "3", "d": "4"}, "Too many: 4: must have at most 3 items",
        "Give it at most 3 entries")], True, id="maxProperties"),
    pytest.param(OBJECT, {"a": "1", "b": "2"}, [], False, id="properties-within"),
    pytest.param(ARRAY, [], [Finding(
        "spec.labels", [], "Invalid value: 0: spec.labels in body should have at least 1 items",
        "Give it at least 1 item")], False, id="minItems"),
    pytest.param(ARRAY, ["a", "b", "c"], [Finding(
        "spec.labels", ["a", "b", "c"], "Too many: 3: must have at most 2 items", "Give it at most 2 items")],
        True, id="maxItems"),
    pytest.param(ARRAY, ["a"], [], False, id="items-within"),
])
def test_counts(schema: dict[str, Any], value: Any, findings: list[Finding], blocked: bool) -> None:
    run = Run()
    assert check(Schema(schema), value, "spec.labels", run) is blocked
    assert run.findings == findings
