"""`render` on ordinary programs: the mocks behave like `pulumi preview`. Values only a deployment
knows (another stack's outputs, a helm Release's status, objects' status) are unknown; objects
without a name are autonamed, stably; an unknown value that reaches an object is named clearly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli.render import autoname

HEADER = "import pulumi\nfrom pulumi_kubernetes.core.v1 import ConfigMap, Namespace\n"


def _program(tmp_path: Path, main: str) -> str:
    root = tmp_path / "program"
    root.mkdir()
    (root / "Pulumi.yaml").write_text("name: program\nruntime: python\n")
    (root / "__main__.py").write_text(HEADER + textwrap.dedent(main))
    return str(root)


def _render(program: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["render", program])
    out, err = capsys.readouterr()
    return code, out, err


NS = autoname("apps", "kubernetes:core/v1:Namespace")
CM_NAME = autoname("settings", "kubernetes:core/v1:ConfigMap")
UNKNOWN = ("is not known before deployment (it comes from a value only a deployment knows: a StackReference output, "
           "a helm Release's status or another object's status), so it cannot be rendered offline; give it as a "
           "plain value, e.g. from stack config")
RELEASE_WARNING = ("warning: helm Release 'istiod': its chart is installed by the provider, so its objects are not "
                   "rendered offline (use `helm template` and pass the YAML to `check`)\n")

PROGRAMS = [
    pytest.param(
        """\
        ns = Namespace("apps")
        ConfigMap("cm", metadata={"name": "cm", "namespace": ns.metadata.apply(lambda m: m.name)}, data={"a": "b"})
        """,
        (0, f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n---\napiVersion: v1\nkind: ConfigMap\n"
            f"metadata:\n  name: cm\n  namespace: {NS}\ndata:\n  a: b\n", ""),
        id="autonamed namespace through apply",
    ),
    pytest.param(
        """\
        ConfigMap("settings", data={"a": "b"})
        """,
        (0, f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {CM_NAME}\n  namespace: default\n"
            "data:\n  a: b\n", ""),
        id="autonamed object without metadata",
    ),
    pytest.param(
        """\
        network = pulumi.StackReference("acme/network/prod")
        ConfigMap("cm", metadata={"name": "cm", "namespace": "apps"}, data={"a": "b"})
        pulumi.export("vpc", network.get_output("vpcId"))
        pulumi.export("subnet", network.require_output("subnetId"))
        """,
        (0, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: apps\ndata:\n  a: b\n", ""),
        id="stack reference outputs stay unknown",
    ),
    pytest.param(
        """\
        network = pulumi.StackReference("acme/network/prod")
        ConfigMap("cm", metadata={"name": "cm", "namespace": "apps"}, data={"vpc": network.get_output("vpcId")})
        """,
        (2, "", f"error: resource 'cm' (kubernetes:core/v1:ConfigMap): data.vpc {UNKNOWN}\n"),
        id="stack reference output in an object",
    ),
    pytest.param(
        """\
        from pulumi_kubernetes.helm.v3 import Release, ReleaseArgs, RepositoryOptsArgs
        istiod = Release("istiod", ReleaseArgs(name="istiod", chart="istiod", namespace="istio-system",
                         repository_opts=RepositoryOptsArgs(repo="https://istio-release.storage.googleapis.com/charts")))
        ConfigMap("cm", metadata={"name": "cm", "namespace": "apps"}, data={"release": istiod.name})
        pulumi.export("status", istiod.status)
        """,
        (0, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: apps\ndata:\n  release: istiod\n",
         RELEASE_WARNING),
        id="helm release with a name",
    ),
    pytest.param(
        """\
        from pulumi_kubernetes.helm.v3 import Release, ReleaseArgs
        istiod = Release("istiod", ReleaseArgs(chart="istiod"))
        ConfigMap("cm", metadata={"name": "cm", "namespace": "apps"},
                  data={"revision": istiod.status.apply(lambda s: str(s.revision))})
        """,
        (2, "", RELEASE_WARNING + f"error: resource 'cm' (kubernetes:core/v1:ConfigMap): data.revision {UNKNOWN}\n"),
        id="helm release status in an object",
    ),
    pytest.param(
        """\
        ns = Namespace("apps", metadata={"name": "apps"})
        ConfigMap("cm", metadata={"name": "cm", "namespace": "apps"},
                  data={"phase": ns.status.apply(lambda s: s.phase)})
        """,
        (2, "", f"error: resource 'cm' (kubernetes:core/v1:ConfigMap): data.phase {UNKNOWN}\n"),
        id="object status in an object",
    ),
]


@pytest.mark.parametrize(("main", "expected"), PROGRAMS)
def test_ordinary_programs_render_as_a_preview_would(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                     main: str, expected: tuple[int, str, str]) -> None:
    # capfd: the program runs in a child process whose stderr is the parent's file descriptor 2.
    assert _render(_program(tmp_path, main), capfd) == expected


def test_autonames_are_stable_and_distinct() -> None:
    assert autoname("apps", "kubernetes:core/v1:Namespace") == autoname("apps", "kubernetes:core/v1:Namespace")
    assert autoname("apps", "kubernetes:core/v1:Namespace") != autoname("apps", "kubernetes:core/v1:ConfigMap")
    assert autoname("apps", "kubernetes:core/v1:Namespace").startswith("apps-")
    assert len(autoname("apps", "kubernetes:core/v1:Namespace")) == len("apps-") + 8
