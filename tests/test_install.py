"""Installs like a library: a wheel built from this tree, installed into a fresh virtualenv outside
the repository, first with the base dependencies only, then with the extra [policy].

Slow (a venv and a pip install; one venv shared by every test here); part of the README's test
command. Select with `-m slow`, leave out with `-m "not slow"`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

import pulumi_istio_egress

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
MANIFEST = Path(__file__).parent / "fixtures" / "manifests" / "blog-recipe.yaml"


@dataclass
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Installed:
    base: dict[str, Ran]
    """What ran with only pulumi + pulumi-kubernetes installed."""
    policy: dict[str, Ran]
    """What ran after installing the extra [policy]."""
    site: Path


def _run(argv: list[str], cwd: Path) -> Ran:
    # Nothing of the repository may leak in: no PYTHONPATH, a working directory outside it.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("install")
    wheels = work / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT)], work)
    assert built.code == 0, built.err
    wheel = next(wheels.glob("pulumi_istio_egress-*.whl"))
    venv.create(work / "venv", with_pip=True)
    python = str(work / "venv" / "bin" / "python")
    cli = str(work / "venv" / "bin" / "pulumi-istio-egress")
    # --no-compile: byte-compiling pulumi-kubernetes' thousands of modules is most of an install's time.
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    step = _run([*pip, str(wheel)], work)
    assert step.code == 0, step.err
    probe = ("import importlib.util, pulumi_istio_egress as p; from pulumi_istio_egress import EgressRoute; "
             "print(p.__version__, EgressRoute.__name__, importlib.util.find_spec('pulumi_policy') is None, "
             "importlib.util.find_spec('cel') is None, importlib.util.find_spec('jsonschema') is None)")
    base = {
        "import": _run([python, "-c", probe], work),
        "policy module": _run([python, "-c", "import pulumi_istio_egress.policies.pack"], work),
        "version": _run([cli, "--version"], work),
        "check": _run([cli, "check", str(MANIFEST)], work),
    }
    step = _run([*pip, f"{wheel}[policy]"], work)
    assert step.code == 0, step.err
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work).out.strip())
    policy = {
        "pack-dir": _run([cli, "pack-dir"], work),
        "check": _run([cli, "check", str(MANIFEST), "--format", "json"], work),
        "module": _run([python, "-m", "pulumi_istio_egress", "--version"], work),
    }
    return Installed(base, policy, site)


def test_the_base_install_is_the_component_only(installed: Installed) -> None:
    ran = installed.base["import"]
    assert (ran.code, ran.out) == (0, f"{pulumi_istio_egress.__version__} EgressRoute True True True\n"), ran.err


def test_a_policy_module_without_the_extra_fails_with_one_line_naming_it(installed: Installed) -> None:
    ran = installed.base["policy module"]
    assert ran.code == 1
    assert ran.err.strip().splitlines()[-1] == (
        "pulumi_istio_egress.extras.MissingExtraError: the istio-egress policy pack needs the extra [policy] "
        "(missing module 'pulumi_policy'): pip install 'pulumi-istio-egress[policy]'"
    )


def test_check_without_the_extra_says_which_extra(installed: Installed) -> None:
    ran = installed.base["check"]
    assert (ran.code, ran.out, ran.err) == (
        2, "", "error: `check` needs the extra [policy] (missing module 'jsonschema'): "
        "pip install 'pulumi-istio-egress[policy]'\n",
    )


def test_version(installed: Installed) -> None:
    expected = Ran(0, f"pulumi-istio-egress {pulumi_istio_egress.__version__}\n", "")
    assert installed.base["version"] == expected
    assert installed.policy["module"] == expected


def test_pack_dir_is_the_installed_pack(installed: Installed) -> None:
    ran = installed.policy["pack-dir"]
    pack = installed.site / "pulumi_istio_egress" / "pack"
    assert (ran.code, ran.out, ran.err) == (0, f"{pack}\n", "")
    assert sorted(p.name for p in pack.iterdir() if p.name != "__pycache__") == [
        "PulumiPolicy.yaml", "__init__.py", "__main__.py", "requirements.txt",
    ]


def test_check_a_yaml_file_outside_the_repository(installed: Installed) -> None:
    import json

    ran = installed.policy["check"]
    assert ran.code == 1, ran.err
    found = sorted((v["policy"], v["object"]) for v in json.loads(ran.out) if v["level"] == "mandatory")
    assert found == [
        ("egress-via-gateway", "ServiceEntry payments/stripe"),
        ("egress-via-gateway", "ServiceEntry payments/stripe"),
        ("istio-valid", "Gateway istio-system/stripe-egress"),
        ("istio-valid", "Gateway istio-system/stripe-egress"),
    ]
