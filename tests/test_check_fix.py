"""`check --fix`: the pure text rewrite (fix.fix_text) and the command, whole YAML compared."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli.fix import FixError, changes, fix_text, judged_config

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
MIXED = FIXTURES / "mixed.yaml"
FIXED = (FIXTURES / "mixed.fixed.yaml").read_text()
REMEDIATE = FIXTURES / "remediate.json"

SE = "apiVersion: v1\nkind: X\nmetadata: {name: a}\nspec: {resolution: NONE}\n"

# (text, {place: remediated object}, expected text)
FIX_TEXT: list[Any] = [
    pytest.param("# c\n" + SE, {}, "# c\n" + SE, id="nothing-remediated-same-bytes"),
    pytest.param("# c\n" + SE + "---\n# d\n" + SE,
                 {"document 2": {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"},
                                 "spec": {"resolution": "DNS"}}},
                 "# c\n" + SE + "---\n# d\napiVersion: v1\nkind: X\nmetadata:\n  name: a\nspec:\n  resolution: DNS\n",
                 id="only-the-changed-document"),
    pytest.param("---\n---\n{apiVersion: v1, kind: X, metadata: {name: a}, num: 0x1F}\n",
                 {"document 2": {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "num": 31.0, "m": "y"}},
                 "---\n---\napiVersion: v1\nkind: X\nmetadata:\n  name: a\nnum: 31\nm: 'y'\n",
                 id="null-document-counted-flow-root-wire-floats-kubectl-safe-quoting"),
    pytest.param("apiVersion: v1\nkind: XList\nitems:\n- metadata: {name: a}\n  s: 1\n",
                 {"document 1, items[0]": {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "s": 2.0}},
                 "apiVersion: v1\nkind: XList\nitems:\n- metadata:\n    name: a\n  s: 2\n",
                 id="list-item-keeps-inheriting-kind"),
    pytest.param("apiVersion: v1\nkind: XList\nitems:\n- apiVersion: v1\n  kind: ZList\n  items:\n"
                 "  - {apiVersion: v1, kind: Z, metadata: {name: b}, gone: 1}\n",
                 {"document 1, items[0].items[0]": {"apiVersion": "v1", "kind": "Z", "metadata": {"name": "b"}}},
                 "apiVersion: v1\nkind: XList\nitems:\n- apiVersion: v1\n  kind: ZList\n  items:\n"
                 "  - apiVersion: v1\n    kind: Z\n    metadata:\n      name: b\n",
                 id="nested-list-and-a-removed-key"),
]


@pytest.mark.parametrize(("text", "remediated", "expected"), FIX_TEXT)
def test_fix_text(text: str, remediated: dict[str, Any], expected: str) -> None:
    assert fix_text(text, remediated) == expected


def test_fix_text_refuses_a_place_the_file_does_not_have() -> None:
    with pytest.raises(FixError, match="no object at document 2"):
        fix_text(SE, {"document 2": {}})


def test_changes_compare_as_kubectl_json() -> None:
    assert list(changes({"a": 1, "b": True, "c": [1]}, {"a": 1.0, "b": 1.0, "c": [1.0]})) == [(("b",), 1)]


def test_without_fix_a_file_is_judged_as_written() -> None:
    config = {"dns-resolution-for-external-hosts": {"enforcementLevel": "remediate"},
              "allowed-hosts": {"enforcementLevel": "advisory", "allowedHosts": ["x"]}}
    assert judged_config(config, remediate=False) == {
        "dns-resolution-for-external-hosts": {"enforcementLevel": "mandatory"},
        "allowed-hosts": {"enforcementLevel": "advisory", "allowedHosts": ["x"]},
    }
    assert judged_config(config, remediate=True) == config


def _check(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    return cli.main(argv), out.getvalue(), err.getvalue()


def _policies(report: str) -> list[str]:
    return [line.split()[1] for line in report.splitlines() if line.startswith("    [")]


REMAINING = ["export-to-scoped", "no-wildcard-hosts", "dns-resolution-for-external-hosts", *["egress-via-gateway"] * 6,
             "egress-lockdown", "egress-lockdown"]


def test_fix_out_writes_the_whole_file_and_reports_what_remains(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "fixed.yaml"
    code, stdout, stderr = _check(["check", str(MIXED), "--policy-config", str(REMEDIATE), "--fix",
                                   "--fix-out", str(out)], monkeypatch)
    assert (code, out.read_text(), stderr) == (1, FIXED, "")
    assert _policies(stdout) == REMAINING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixed.yaml"]  # no temporary file left


def test_fix_to_stdout_puts_the_report_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    code, stdout, stderr = _check(["check", str(MIXED), "--policy-config", str(REMEDIATE), "--fix"], monkeypatch)
    assert (code, stdout) == (1, FIXED)
    assert _policies(stderr) == REMAINING


def test_the_fixed_file_passes_what_was_remediated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in.yaml").write_text(FIXED)
    code, stdout, _ = _check(["check", str(tmp_path / "in.yaml"), "--policy-config", str(REMEDIATE), "--fix",
                              "--fix-out", str(tmp_path / "again.yaml")], monkeypatch)
    assert (code, (tmp_path / "again.yaml").read_text()) == (1, FIXED)  # nothing more to fix: same bytes
    assert _policies(stdout) == REMAINING


def test_without_fix_remediable_findings_are_violations(monkeypatch: pytest.MonkeyPatch) -> None:
    # kubectl applies the file as written: at level remediate, check alone does not count a fix it did not write.
    code, stdout, _ = _check(["check", str(MIXED), "--policy-config", str(REMEDIATE)], monkeypatch)
    assert code == 1
    assert _policies(stdout).count("dns-resolution-for-external-hosts") == 2
    assert _policies(stdout).count("export-to-scoped") == 1  # no remediation: it stays either way


def test_fix_in_place_keeps_permissions_and_replaces_a_symlink(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "real.yaml"
    target.write_text(MIXED.read_text())
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    os.chmod(target, 0o640)
    assert _check(["check", str(target), "--policy-config", str(REMEDIATE), "--fix", "--fix-out", str(target)],
                  monkeypatch)[0] == 1
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == (FIXED, 0o640)
    target.write_text(MIXED.read_text())
    _check(["check", str(target), "--policy-config", str(REMEDIATE), "--fix", "--fix-out", str(link)], monkeypatch)
    assert (link.is_symlink(), link.read_text(), target.read_text()) == (False, FIXED, MIXED.read_text())


USAGE = [
    pytest.param(["--fix", str(MIXED), str(MIXED)], id="two-files"),
    pytest.param(["--fix", str(FIXTURES)], id="a-directory"),
    pytest.param(["--fix-out", "x.yaml", str(MIXED)], id="fix-out-without-fix"),
]


@pytest.mark.parametrize("argv", USAGE)
def test_fix_usage(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _check(["check", *argv], monkeypatch) == (
        2, "", "error: --fix needs exactly one MANIFEST.yaml file (and --fix-out needs --fix)\n")
