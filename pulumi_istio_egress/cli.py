"""Command line: ``pulumi-istio-egress <command> ...``.

Each command is a pair of small functions: ``_add_<command>`` declares its arguments and
``_run_<command>`` does the work and returns the exit code. Errors the user can fix print one
line, ``error: <message>``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .extras import MissingExtraError, requires_extra
from .findings import object_ref

if TYPE_CHECKING:
    from .analyzer import Resource
    from .report import Subject

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in the command line or its inputs; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; report the problem as one line instead.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _error(message: str, stderr: TextIO) -> None:
    print(f"error: {message}", file=stderr)


# ---------------------------------------------------------------------------------------------
# render


def _add_render(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "render",
        help="run a Pulumi program offline and print the Kubernetes objects it declares as YAML",
        description="Run a Pulumi Python program under Pulumi's mock engine, with its stack config, "
        "and write every Kubernetes object it declares as kubectl-ready YAML.",
    )
    parser.add_argument("program_dir", nargs="?", default=".", metavar="PROGRAM_DIR", help="default: .")
    parser.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml to use (default: the only one, else dev)")
    parser.add_argument("--config-file", metavar="FILE", help="stack config file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument("--out", metavar="DIR", help="write one file per object into DIR instead of stdout")
    parser.set_defaults(run=_run_render)


def _progress_printer(stderr: TextIO) -> Callable[[int], None] | None:
    if not stderr.isatty():
        return None

    def show(count: int) -> None:
        stderr.write(f"\rrendered {count} objects...")
        stderr.flush()

    return show


def _run_render(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    # Imported here so other commands don't pay for loading Pulumi.
    from .render import RenderError, object_file_name, render_program, to_yaml

    progress = _progress_printer(stderr)
    try:
        # The program's own print() calls must not end up in the YAML on stdout.
        with contextlib.redirect_stdout(stderr):
            objects = render_program(
                args.program_dir, stack=args.stack, config_file=args.config_file, progress=progress
            )
    except RenderError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if progress is not None:
            stderr.write("\r\x1b[K")  # clear the progress line
            stderr.flush()

    if args.out is None:
        _write_text(stdout, to_yaml(o.manifest for o in objects))
        return EXIT_OK

    out_dir = Path(args.out)
    files: dict[str, str] = {}
    for obj in objects:
        name = object_file_name(obj.manifest)
        if name in files:
            raise UsageError(f"objects {files[name]!r} and {obj.pulumi_name!r} would both be written to {name}")
        files[name] = obj.pulumi_name
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for obj in objects:
            path = out_dir / object_file_name(obj.manifest)
            # Binary write: the same bytes on every platform and locale.
            path.write_bytes(to_yaml([obj.manifest]).encode("utf-8"))
            print(path, file=stderr)
    except OSError as exc:
        _error(f"cannot write {exc.filename or out_dir}: {exc.strerror or exc}", stderr)
        return EXIT_FAILED
    return EXIT_OK


def _write_text(stream: TextIO, text: str) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        # UTF-8 whatever the locale says, so output is byte-identical everywhere.
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:
        stream.write(text)


# ---------------------------------------------------------------------------------------------
# check and diagram read the same inputs: Pulumi programs (directories) or YAML manifests (files)


def _load_inputs(inputs: Sequence[str], stack: str | None) -> list[tuple[Resource, Subject]]:
    from .analyzer import Resource
    from .render import RenderError, render_program
    from .report import Subject

    loaded: list[tuple[Resource, Subject]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            try:
                with contextlib.redirect_stdout(sys.stderr):
                    objects = render_program(path, stack=stack)
            except RenderError as exc:
                raise UsageError(str(exc)) from None
            for obj in objects:
                resource = Resource(type=obj.pulumi_type, name=obj.pulumi_name, props=obj.manifest,
                                    urn=obj.urn, parent=obj.parent_urn)
                loaded.append((resource, Subject(object_ref(obj.manifest), item)))
        elif path.is_file():
            for manifest in _read_manifests(path):
                try:
                    resource = Resource.from_manifest(manifest)
                except (ValueError, TypeError) as exc:
                    raise UsageError(f"{item}: {exc}") from None
                loaded.append((resource, Subject(object_ref(manifest), item)))
        else:
            raise UsageError(f"{item}: no such program directory or manifest file")
    urns = [r.urn for r, _ in loaded]
    duplicates = sorted({u for u in urns if urns.count(u) > 1})
    if duplicates:
        raise UsageError(f"the same object is declared twice: {duplicates[0]}")
    return loaded


def _read_manifests(path: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read YAML: {exc}") from None
    manifests: list[dict[str, Any]] = []
    for number, doc in enumerate(documents, 1):
        if doc is None:
            continue
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not item.get("apiVersion") or not item.get("kind"):
                raise UsageError(f"{path}: document {number} is not a Kubernetes object (apiVersion and kind)")
            manifests.append(item)
    return manifests


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "check",
        help="run a policy pack over a program's objects or YAML manifests, as pulumi preview would",
        description="Send every object through a Python policy pack over the Analyzer gRPC protocol the "
        "Pulumi CLI uses: resource policies, then stack policies. Exit 1 on a mandatory violation.",
    )
    parser.add_argument("inputs", nargs="*", default=["."], metavar="PROGRAM_DIR|MANIFEST.yaml",
                        help="Pulumi programs to render and/or YAML files (default: .)")
    parser.add_argument("--policy-pack", metavar="DIR",
                        help="default: the pack installed with this package (see `pack-dir`)")
    parser.add_argument("--policy-config", metavar="FILE", help="policy pack config JSON, as for pulumi preview")
    parser.add_argument("--stack", help="stack of the programs (default: the only one, else dev)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from . import __version__
    from .pack import PACK_DIR

    with requires_extra("`check`"):
        from .analyzer import PolicyPackError, run_pack
        from .report import as_json, as_sarif, as_text

    pack = Path(args.policy_pack) if args.policy_pack else PACK_DIR
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"{pack}: not a policy pack (no PulumiPolicy.yaml); pass --policy-pack DIR")
    config = None
    if args.policy_config:
        try:
            config = json.loads(Path(args.policy_config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.policy_config}: cannot read policy config: {exc}") from None
    if isinstance(config, dict):
        _reject_config_typos(pack, config)
    loaded = _load_inputs(args.inputs, args.stack)
    try:
        violations = run_pack(pack, [r for r, _ in loaded], config_file=config)
    except (PolicyPackError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    subjects = {r.urn: s for r, s in loaded}
    if args.format == "json":
        text = as_json(violations, subjects)
    elif args.format == "sarif":
        text = as_sarif(violations, subjects, __version__)
    else:
        text = as_text(violations, subjects)
    _write_text(stdout, text)
    return EXIT_FAILED if any(v.enforcement_level in ("mandatory", "remediate") for v in violations) else EXIT_OK


def _reject_config_typos(pack: Path, config: dict[str, Any]) -> None:
    """Misspelt policy names and options are refused with a "did you mean", before any object is
    judged: the CLI would pass an unknown option through silently (see policy_config)."""
    from .analyzer import PolicyPackError, PolicyPackProcess
    from .policy_config import config_typos

    try:
        with PolicyPackProcess(pack) as running:
            schemas = {p.name: p.config_schema for p in running.info.policies}
    except PolicyPackError as exc:
        raise UsageError(str(exc)) from None
    problems = config_typos(config, schemas)
    if problems:
        raise UsageError("; ".join(problems))


def _add_pack_dir(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "pack-dir", help="print the directory of the installed istio-egress policy pack",
        description='For `pulumi preview --policy-pack "$(pulumi-istio-egress pack-dir)"`. The pack runs in the '
        "Python on PATH, which needs pulumi-istio-egress[policy].",
    )
    parser.set_defaults(run=_run_pack_dir)


def _run_pack_dir(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .pack import PACK_DIR

    _write_text(stdout, f"{PACK_DIR}\n")
    return EXIT_OK


def _add_diagram(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "diagram", help="print a Mermaid flowchart of each egress route's traffic path",
        description="Render the programs (or read the YAML files) and draw each route: app -> sidecar -> "
        "egress gateway -> external host, with where TLS is interpreted.",
    )
    parser.add_argument("inputs", nargs="*", default=["."], metavar="PROGRAM_DIR|MANIFEST.yaml")
    parser.add_argument("--stack", help="stack of the programs (default: the only one, else dev)")
    parser.set_defaults(run=_run_diagram)


def _run_diagram(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .diagram import mermaid

    manifests = [r.props for r, _ in _load_inputs(args.inputs, args.stack)]
    _write_text(stdout, mermaid(manifests) or "%% no egress routes found\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# entry point

_COMMANDS: Sequence[Callable[[argparse._SubParsersAction[_Parser]], None]] = (
    _add_render, _add_check, _add_diagram, _add_pack_dir,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pulumi-istio-egress",
        description="Istio egress for Pulumi: render programs offline and check what they declare.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"pulumi-istio-egress {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for add in _COMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    stdout, stderr = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
        code: int = args.run(args, stdout, stderr)
        return code
    except (UsageError, MissingExtraError) as exc:
        _error(str(exc), stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError:
        # `... | head`: the reader left. Point stdout at /dev/null so the final flush at exit
        # does not raise again, and say nothing more.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
