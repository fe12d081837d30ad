"""Fuzzing of the hostile-input code (issue 12, extending issue 6's): secrets stay marked and are
scrubbed from any text, printed text carries no raw controls, YAML limits hold at every length,
and the child's result pipe hands back exactly the frames it was sent.

Example counts are bounded so the file stays within seconds on 2 cores.
"""

from __future__ import annotations

import io
import os
import re
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_istio_egress.cli import kubeyaml, program_process
from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli.redaction import (
    MIN_SCRUBBED,
    REDACTED,
    Secret,
    from_json,
    redact,
    reveal,
    scrub,
    secret_texts,
    to_json,
)
from pulumi_istio_egress.cli.terminal import escape_controls, shorten


def bounded(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))


def _values(secrets: bool) -> st.SearchStrategy[Any]:
    def grow(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        options = [st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)]
        if secrets:
            options.append(st.builds(Secret, inner))
        return st.one_of(*options)

    return st.recursive(_LEAVES, grow, max_leaves=20)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


@bounded(300)
@given(_values(secrets=True))
def test_secrets_survive_the_wire_and_redaction_leaves_none(value: Any) -> None:
    assert from_json(to_json(value)) == value  # marked on the wire to the pack and back
    redacted = redact(value)
    assert (_holds_secret(redacted), _holds_secret(reveal(value)), reveal(redacted) == redacted) == (False, False, True)


@bounded(300)
@given(_values(secrets=False))
def test_values_without_secrets_pass_untouched(value: Any) -> None:
    assert (redact(value), reveal(value), from_json(to_json(value)), secret_texts([value])) == (
        value, value, value, frozenset())


# Secrets drawn without the characters of "[secret]", so a marker can never spell one.
_SECRET_CHARS = "abdfghxyz019-_.:/"


@bounded(400)
@given(st.text(max_size=80), st.lists(st.text(_SECRET_CHARS, min_size=MIN_SCRUBBED, max_size=10), max_size=4),
       st.data())
def test_scrub_leaves_no_secret_in_any_text(text: str, secrets: list[str], data: st.DataObject) -> None:
    # Put each secret somewhere in the text, maybe overlapping others.
    for secret in secrets:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + secret + text[at:]
    scrubbed = scrub(text, secret_texts([Secret(secrets)]))
    assert [s for s in secrets if s in scrubbed] == []
    assert (REDACTED in scrubbed) == bool(secrets)


_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@bounded(400)
@given(st.text(max_size=200))
def test_escaped_text_holds_no_raw_control_and_plain_text_is_kept(text: str) -> None:
    escaped = escape_controls(text)
    assert _RAW_CONTROL.search(escaped) is None
    if _RAW_CONTROL.search(text) is None:
        assert escaped == text


@bounded(300)
@given(st.text(max_size=500), st.integers(40, 300))
def test_shortened_text_is_bounded_and_starts_as_the_text(text: str, limit: int) -> None:
    short = shorten(text, limit)
    assert len(short) <= limit + 30 or len(short) <= len(text)
    assert short == text or (short.startswith(text[: limit - 30]) and short.endswith(f"({len(text)} characters)"))


@bounded(300)
@given(st.text(max_size=300))
def test_an_error_message_is_one_line_with_no_raw_controls(message: str) -> None:
    out = io.StringIO()
    cli._error(message, out)
    printed = out.getvalue()
    assert printed.count("\n") == 1 and printed.startswith("error: ") and printed.endswith("\n")
    assert _RAW_CONTROL.search(printed[:-1]) is None


# --- YAML limits at every length -----------------------------------------------------------------

_SE = """apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: s, namespace: n, labels: {{app: {label}}}}}
spec:
  hosts: ['{host}']
  ports: [{{number: 443, name: tls, protocol: TLS}}]
"""


@bounded(150)
@given(st.integers(200, 300), st.integers(1, 80), st.sampled_from(["", "*.", "ns/"]))
def test_hosts_and_label_values_are_read_exactly_up_to_their_limits(host_length: int, label_length: int,
                                                                     prefix: str) -> None:
    host = prefix + "h" * (host_length - 4 - len(prefix)) + ".com"
    text = _SE.format(host=host, label="v" * label_length)
    counted = host_length - (3 if prefix == "ns/" else 0)  # ServiceEntry hosts have no namespace part
    try:
        items = kubeyaml.read(text)
    except kubeyaml.ManifestError as exc:
        assert counted > 255 or label_length > 63, str(exc)
        assert "\n" not in str(exc)
    else:
        assert (counted <= 255, label_length <= 63, len(items)) == (True, True, 1)


# --- the result pipe: progress, secrets, result --------------------------------------------------


@bounded(100)
@given(st.lists(st.one_of(st.integers(0, 10**6).map(lambda n: ("P", n)),
                          st.text(max_size=40).map(lambda s: ("S", s))), max_size=10),
       st.binary(max_size=200), st.integers(1, 7))
def test_the_result_reader_takes_every_frame_in_any_chunking(frames: list[tuple[str, Any]], body: bytes,
                                                            chunk: int) -> None:
    wire = b""
    for tag, item in frames:
        if tag == "P":
            wire += b"P %d\n" % item
        else:
            data = item.encode("utf-8")
            wire += b"S %d\n" % len(data) + data
    wire += b"R %d\n" % len(body) + body
    read_fd, write_fd = os.pipe()
    for start in range(0, len(wire), chunk):
        os.write(write_fd, wire[start : start + chunk])
    os.close(write_fd)
    box: list[bytes] = []
    counts: list[int] = []
    secrets: set[str] = set()
    program_process._read_result(read_fd, time.monotonic() + 5, box, counts.append, secrets)
    os.close(read_fd)
    assert (box, counts, secrets) == (
        [b"R %d\n" % len(body) + body], [n for t, n in frames if t == "P"], {s for t, s in frames if t == "S"})
