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

from ..extras import MissingExtraError, requires_extra
from ..findings import object_ref
from .terminal import escape_controls, shorten

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from .pack_client import PackInfo, Resource
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

    # argparse writes --help and --version through this and ignores OSError; a reader that left
    # (`--help | head -1`) must be a write error like any other output.
    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            (file or sys.stderr).write(message)


def _error(message: str, stderr: TextIO) -> None:
    # Messages quote file names, program output and YAML values: one line, no raw controls.
    one_line = " ".join(escape_controls(shorten(message, 4000)).split("\n"))
    print(f"error: {one_line}", file=stderr)


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
    parser.add_argument("--out", metavar="DIR",
                        help="write one file per object into DIR instead of stdout; DIR must be new, empty or "
                        "written by an earlier --out (files of objects no longer declared are removed)")
    parser.add_argument("--show-secrets", action="store_true",
                        help="write secret values (Output.secret, require_secret) instead of [secret]")
    parser.set_defaults(run=_run_render)


def _progress_printer(stderr: TextIO) -> Callable[[int], None] | None:
    if not stderr.isatty():
        return None

    def show(count: int) -> None:
        stderr.write(f"\rrendered {count} objects...")
        stderr.flush()

    return show


def _render(
    program_dir: str, stack: str | None, config_file: str | None = None, stderr: TextIO | None = None,
    show_secrets: bool = False,
) -> list[Any]:
    from .program_process import render_in_child
    from .render import RenderError

    progress = _progress_printer(stderr) if stderr is not None else None
    try:
        return render_in_child(
            program_dir, stack=stack, config_file=config_file, progress=progress, show_secrets=show_secrets
        )
    except RenderError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if progress is not None and stderr is not None:
            stderr.write("\r\x1b[K")  # clear the progress line
            stderr.flush()


def _run_render(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    # Imported here so other commands don't pay for loading Pulumi.
    from .output_dir import OutputDirError, write_output_dir
    from .render import object_file_name, to_yaml

    # The program runs in a child process whose stdout is our stderr: its prints never reach
    # the YAML, and nothing it does changes what this process writes.
    objects = _render(args.program_dir, args.stack, args.config_file, stderr, args.show_secrets)
    if args.out is None:
        _write_text(stdout, to_yaml((o.manifest for o in objects), show_secrets=args.show_secrets))
        return EXIT_OK

    out_dir = Path(args.out)
    files: dict[str, bytes] = {}
    owners: dict[str, str] = {}
    for obj in objects:
        name = object_file_name(obj.manifest)
        if name in owners:
            raise UsageError(f"objects {owners[name]!r} and {obj.pulumi_name!r} would both be written to {name}")
        owners[name] = obj.pulumi_name
        # Binary: the same bytes on every platform and locale.
        files[name] = to_yaml([obj.manifest], show_secrets=args.show_secrets).encode("utf-8")
    try:
        written = write_output_dir(out_dir, files)
    except OutputDirError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or out_dir}: {exc.strerror or exc}") from None
    for path in written:
        print(path, file=stderr)
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


def _load_inputs(
    inputs: Sequence[str],
    stack: str | None,
    *,
    programs: bool = True,
    files: dict[str, list[Any]] | None = None,
) -> list[tuple[Resource, Subject]]:
    """The objects of every input, in order: programs rendered in a child process, YAML files
    read as kubectl reads them. ``programs`` False leaves programs out; ``files`` caches what
    each file held, so a second call does not read it again."""
    from .kubeyaml import ManifestError, limit_problem, read
    from .pack_client import Resource
    from .report import Subject

    loaded: list[tuple[Resource, Subject]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for obj in _render(item, stack) if programs else ():
                if (problem := limit_problem(obj.manifest, f"resource {obj.pulumi_name!r}")) is not None:
                    raise UsageError(f"{item}: {problem}")  # as for YAML: no rule sees what Istio refuses
                resource = Resource(type=obj.pulumi_type, name=obj.pulumi_name, props=obj.manifest,
                                    urn=obj.urn, parent=obj.parent_urn)
                loaded.append((resource, Subject(object_ref(obj.manifest), item)))
        elif path.is_file() and files is not None and item in files:
            loaded += files[item]
        elif path.is_file():
            start = len(loaded)
            try:
                manifests = read(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{item}: cannot read: {exc}") from None
            except ManifestError as exc:
                raise UsageError(f"{item}: {exc}") from None
            for manifest in manifests:
                try:
                    resource = Resource.from_manifest(manifest.manifest)
                except (ValueError, TypeError) as exc:
                    raise UsageError(f"{item}: {manifest.place}: {exc}") from None
                loaded.append((resource, Subject(object_ref(manifest.manifest), item)))
            if files is not None:
                files[item] = loaded[start:]
        else:
            raise UsageError(f"{item}: no such program directory or manifest file")
    seen: set[str] = set()  # linear: 10k objects must not take 10k squared steps (issue 17)
    for resource, _ in loaded:
        if resource.urn in seen:
            raise UsageError(f"the same object is declared twice: {resource.urn}")
        seen.add(resource.urn)
    return loaded


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "check",
        help="run a policy pack over a program's objects or YAML manifests, as pulumi preview would",
        description="Send every object through a Python policy pack over the Analyzer gRPC protocol the "
        "Pulumi CLI uses: resource policies, then stack policies. Exit 0 when no mandatory policy is "
        "violated, 1 when one is, 2 when the inputs or the pack could not be judged (also when there "
        "is nothing to judge, unless --allow-empty). YAML files are read as kubectl reads them; "
        "programs run in a child process.",
    )
    parser.add_argument("inputs", nargs="*", default=["."], metavar="PROGRAM_DIR|MANIFEST.yaml",
                        help="Pulumi programs to render and/or YAML files (default: .)")
    parser.add_argument("--policy-pack", metavar="DIR",
                        help="default: the pack installed with this package (see `pack-dir`); a DIR given here "
                        "has its Python code run, so pass only a pack you trust")
    parser.add_argument("--policy-config", metavar="FILE", help="policy pack config JSON, as for pulumi preview")
    parser.add_argument("--stack", help="stack of the programs (default: the only one, else dev)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--allow-empty", action="store_true",
                        help="exit 0 when the inputs declare no objects (default: exit 2, nothing was judged)")
    parser.add_argument("--fix", action="store_true",
                        help="with one MANIFEST.yaml: write it with the remediations of the policies at enforcement "
                        "level remediate applied, to stdout (the report then goes to stderr) or --fix-out")
    parser.add_argument("--fix-out", metavar="PATH", help="with --fix: write the YAML to PATH atomically (may be the "
                        "input itself) instead of stdout")
    parser.set_defaults(run=_run_check)


def _read_policy_config(name: str) -> dict[str, Any]:
    import json

    try:
        config = json.loads(Path(name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{name}: cannot read policy config: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{name}: policy config must be a JSON object of policy names, not a {type(config).__name__}")
    return config


def _run_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .. import __version__
    from ..pack import PACK_DIR

    with requires_extra("`check`"):
        from .fix import fixed_file, judged_config
        from .pack_client import PolicyPackError, PolicyPackProcess, analyze_all, reconcile_config
        from .redaction import secret_texts
        from .report import as_json, as_sarif, as_text

    pack_dir = Path(args.policy_pack) if args.policy_pack else PACK_DIR
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"{pack_dir}: not a policy pack (no PulumiPolicy.yaml); pass --policy-pack DIR")
    config = _read_policy_config(args.policy_config) if args.policy_config else None
    files: dict[str, list[Any]] = {}
    if (args.fix or args.fix_out) and not (args.fix and len(args.inputs) == 1 and Path(args.inputs[0]).is_file()):
        raise UsageError("--fix needs exactly one MANIFEST.yaml file (and --fix-out needs --fix)")
    _load_inputs(args.inputs, args.stack, programs=False, files=files)  # bad files fail before the pack starts
    try:
        # The pack starts (and loads its code) before any checked program runs, so a program
        # that rewrites the pack on disk cannot change the rules it is judged by.
        with PolicyPackProcess(pack_dir) as pack:
            if config is not None:
                _reject_config_typos(pack.info, config)
            # kubectl applies a YAML file as written: remediations only count once --fix writes them.
            pack.configure(judged_config(reconcile_config(pack.info, config), remediate=args.fix or not files))
            loaded = _load_inputs(args.inputs, args.stack, files=files)
            if not loaded and not args.allow_empty:
                raise UsageError(
                    f"nothing was judged: {', '.join(args.inputs)} declare(s) no objects; "
                    "pass --allow-empty if that is expected"
                )
            violations = analyze_all(pack, [r for r, _ in loaded])
            fixed = fixed_file(pack, args.inputs[0], [r for r, _ in loaded]) if args.fix else None
    except (PolicyPackError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if fixed is not None:
        stdout = _write_fixed(fixed, args.fix_out, stdout, stderr)
    subjects = {r.urn: s for r, s in loaded}
    secrets = secret_texts(r.props for r, _ in loaded)
    if args.format == "json":
        text = as_json(violations, subjects, secrets)
    elif args.format == "sarif":
        text = as_sarif(violations, subjects, __version__, secrets)
    else:
        text = as_text(violations, subjects, secrets, judged=len(loaded))
    _write_text(stdout, text)
    return EXIT_FAILED if any(v.enforcement_level in ("mandatory", "remediate") for v in violations) else EXIT_OK


def _write_fixed(text: str, out: str | None, stdout: TextIO, stderr: TextIO) -> TextIO:
    """Write check --fix's YAML; the stream the report goes to (stderr when the YAML took stdout)."""
    from .fix import write_atomically

    if out is None:
        _write_text(stdout, text)
        return stderr
    try:
        write_atomically(Path(out), text)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return stdout


def _reject_config_typos(info: PackInfo, config: dict[str, Any]) -> None:
    """Misspelt policy names and options are refused with a "did you mean", before any object is
    judged: the CLI would pass an unknown option through silently (see policy_config)."""
    from ..policies import RESOURCE_RULES
    from ..policies.pack import PACK_NAME
    from ..policy_config import config_typos

    # Which policies can remediate is known for our pack only (the wire does not say it).
    remediating = {r.name for r in RESOURCE_RULES if r.remediate} if info.name == PACK_NAME else None
    problems = config_typos(config, {p.name: p.config_schema for p in info.policies}, remediating)
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
    from ..pack import PACK_DIR

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
    from .redaction import redact

    manifests = [redact(r.props) for r, _ in _load_inputs(args.inputs, args.stack)]
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
    from .. import __version__

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
        # `... | head -1`: the reader left before the output was written, so it is incomplete:
        # a write error (2), never a verdict. Point stdout at /dev/null so the final flush at
        # exit does not raise again (Python would print a traceback of it), and say nothing
        # more: the reader asked for less.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return EXIT_USAGE
    except OSError as exc:  # stdout on a full disk, a closed descriptor: a write error is exit 2
        _error(f"cannot write output: {exc.strerror or exc}", stderr)
        return EXIT_USAGE
    except Exception as exc:  # a crash must never read as a verdict (exit 1): say it in one line
        _error(f"internal error: {type(exc).__name__}: {exc}", stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
