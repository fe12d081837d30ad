"""The benchmark harness's own logic (never its timings): how a target is judged and shown, how a
validate call that says "not applicable" is counted, and that the benchmark stack is clean."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import policy_worker
import run

from pulumi_istio_egress.policies import STACK_RULES


@pytest.mark.parametrize(("target", "met", "row"), [
    (run.Target("a / floor", 1.2, 1.5, "x", "CPU"), True, "| a / floor | 1.20 x | <= 1.5 x | met | CPU |"),
    (run.Target("a / floor", 3.0, 1.5, "x", "CPU"), False,
     "| a / floor | 3.00 x | <= 1.5 x | **MISSED** (2.00x the limit) | CPU |"),
    (run.Target("a / baseline", 9.9, 0.5, "x", "no --baseline VENV given", measured=False), True,
     "| a / baseline | not measured | <= 0.5 x | not measured | no --baseline VENV given |"),
    (run.Target("import", 80.0, 50, "ms", "context", reference=True), False,
     "| import | 80 ms | (reference) | | context |"),
])
def test_target_verdict_and_row(target: run.Target, met: bool, row: str) -> None:
    assert (target.met, target.row()) == (met, row)


class _Args:
    def not_applicable(self, reason: str | None = None) -> None:
        from pulumi_istio_egress.policies.sdk import NotApplicableError

        raise NotApplicableError(reason)


class _Policy:
    def __init__(self, validate: Any) -> None:
        self.validate = validate


@pytest.mark.parametrize(("validate", "counted"), [
    (lambda args, report: args.not_applicable("nothing to judge"), 1),
    (lambda args, report: None, 0),
])
def test_not_applicable_is_counted_like_the_sdk_records_it(validate: Any, counted: int) -> None:
    assert policy_worker._call(_Policy(validate), _Args()) == counted


def test_a_violation_is_not_swallowed() -> None:
    with pytest.raises(AssertionError, match="unexpected violation: bad"):
        policy_worker._call(_Policy(lambda args, report: report("bad", None)), _Args())


def test_the_benchmark_stack_is_clean_for_every_stack_rule() -> None:
    stack = policy_worker.manifests(200)
    found = {rule.name: [str(f) for f in rule.check(stack, rule.defaults())] for rule in STACK_RULES}
    assert found == {rule.name: [] for rule in STACK_RULES}
