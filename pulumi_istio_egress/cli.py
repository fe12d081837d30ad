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
from typing import NoReturn, TextIO

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
# entry point

_COMMANDS: Sequence[Callable[[argparse._SubParsersAction[_Parser]], None]] = (_add_render,)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pulumi-istio-egress",
        description="Istio egress for Pulumi: render programs offline and check what they declare.",
    )
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
    except UsageError as exc:
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
