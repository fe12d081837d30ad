"""Benchmarks of pulumi_istio_egress, as ratios measured side by side in one run.

    .venv/bin/python benchmarks/run.py                 # everything, Markdown report on stdout
    .venv/bin/python benchmarks/run.py --quick         # fewer repetitions (noisier)
    .venv/bin/python benchmarks/run.py --only import,policy --json out.json
    .venv/bin/python benchmarks/run.py --only check --baseline /path/to/venv-of-last-release
    benchmarks/check                                   # the same, exit 1 when a target is missed

Absolute times on a shared 2-core machine are noise; each target is a ratio or a difference between
things measured in the same run, in fresh interpreters (Pulumi's runtime state is process-global),
alternating their order round by round and taking medians.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, machine, median, routes, run_json

HERE = Path(__file__).resolve().parent
SECTIONS = ("registration", "import", "policy", "render", "check")


@dataclass
class Target:
    name: str
    value: float
    limit: float
    unit: str
    note: str = ""
    reference: bool = False
    """Shown for context; never fails the check (not one of issue 17's targets)."""
    measured: bool = True
    """False when what the target compares against is missing here (``value`` is then meaningless)."""

    @property
    def met(self) -> bool:
        return not self.measured or self.value <= self.limit

    def _shown(self, value: float) -> str:
        # Ratios near a limit of 1.1 must not round onto it.
        return {"x": f"{value:.2f}", "MiB": f"{value:.0f}"}.get(self.unit, f"{value:.3g}")

    def row(self) -> str:
        if not self.measured:
            return f"| {self.name} | not measured | <= {self.limit:g} {self.unit} | not measured | {self.note} |"
        if self.reference:
            return f"| {self.name} | {self._shown(self.value)} {self.unit} | (reference) | | {self.note} |"
        verdict = "met" if self.met else f"**MISSED** ({self.value / self.limit:.2f}x the limit)"
        limit = f"<= {self.limit:g} {self.unit}"
        return f"| {self.name} | {self._shown(self.value)} {self.unit} | {limit} | {verdict} | {self.note} |"


@dataclass
class Report:
    lines: list[str]
    targets: list[Target]
    data: dict[str, Any]

    def say(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)


def _progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


# --- registration under mocks -------------------------------------------------------------------


def registration(report: Report, rounds: dict[int, int]) -> None:
    """N EgressRoutes vs the same objects registered by hand, alternating which goes first."""
    results: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for n, k in rounds.items():
        results[n] = {"egress": [], "hand": []}
        for r in range(k):
            order = ("egress", "hand") if r % 2 == 0 else ("hand", "egress")
            for variant in order:
                _progress(f"registration {variant} N={n} round {r + 1}/{k}")
                results[n][variant].append(run_json([str(HERE / "register_worker.py"), variant, str(n)]))
    report.data["registration"] = results
    for n in rounds:  # the floor is only a floor if it registers exactly what EgressRoute does
        counts = {variant: {run["resources"] for run in runs} for variant, runs in results[n].items()}
        if counts["egress"] != counts["hand"]:
            raise RuntimeError(f"N={n}: EgressRoute and the hand-written floor registered {counts} resources")

    def med(n: int, variant: str, key: str = "cpu") -> float:
        return median([run[key] for run in results[n][variant]])

    report.say("## Registration under Pulumi's mocks")
    report.say()
    report.say("From the first declaration until every registration finished, median of "
               f"{', '.join(f'{k} at N={n}' for n, k in rounds.items())} fresh processes per variant, order "
               "alternating. `hand` = the same child objects as plain-dict `CustomResource`s under one plain "
               "`ComponentResource` each, which registers the same outputs as literals (the floor). The route mix "
               "rotates PASSTHROUGH, SIMPLE+authz, SIMPLE "
               "termination and MUTUAL: 6 resources per route on average. Ratios use CPU time (all threads of "
               "the process), which other tenants of a shared machine disturb far less than wall time; wall "
               "time is shown too. `gc` = time inside CPython's cyclic garbage collector.")
    report.say()
    report.say("| N routes | resources | EgressRoute CPU (wall) | hand-written CPU (wall) | EgressRoute / hand "
               "| gc share of wall (egress / hand) |")
    report.say("|---|---|---|---|---|---|")
    for n in rounds:
        e, h = med(n, "egress"), med(n, "hand")
        ew, hw = med(n, "egress", "seconds"), med(n, "hand", "seconds")
        gc_e, gc_h = med(n, "egress", "gc") / ew, med(n, "hand", "gc") / hw
        count = results[n]["egress"][0]["resources"]
        report.say(f"| {n} | {count} | {e:.2f} s ({ew:.2f} s), {e / count * 1e3:.2f} ms/res | {h:.2f} s "
                   f"({hw:.2f} s), {h / count * 1e3:.2f} ms/res | {e / h:.2f} | {gc_e:.0%} / {gc_h:.0%} |")
    report.say()
    small, big = min(rounds), max(rounds)
    for n in rounds:
        report.targets.append(Target(f"registration of N={n} routes / hand-written floor (same objects and outputs)",
                                     med(n, "egress") / med(n, "hand"), 1.10, "x", "CPU time, GC included"))
    scale = big / small
    report.targets.append(Target(f"EgressRoute cost({big})/cost({small})", med(big, "egress") / med(small, "egress"),
                                 scale * 1.1, "x", f"CPU time; linear = {scale:g}", reference=True))
    report.targets.append(Target(f"hand-written cost({big})/cost({small})", med(big, "hand") / med(small, "hand"),
                                 scale * 1.1, "x", "the floor's own scaling", reference=True))
    report.data["registration_cpu_medians"] = {n: {v: med(n, v) for v in ("egress", "hand")} for n in rounds}


# --- import time --------------------------------------------------------------------------------

_IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
# Paired, in one interpreter: pulumi first, then what our package adds on top (far less noisy than
# the difference of two medians, since `import pulumi` alone varies by +-100 ms between processes).
_PAIRED = ("import time; t = time.perf_counter(); import pulumi; t1 = time.perf_counter(); "
           "import pulumi_kubernetes.apiextensions; t2 = time.perf_counter(); import pulumi_istio_egress; "
           "t3 = time.perf_counter(); print(t1 - t, t3 - t1, t2 - t1)")


def _import_env(warm_cache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if warm_cache is not None:
        # Bytecode cached in a private prefix (never in the repository), as after `pip install`.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = warm_cache
    return env


def _python_c(code: str, env: dict[str, str]) -> list[float]:
    out = subprocess.run([PYTHON, "-c", code], cwd=tempfile.gettempdir(), env=env,
                         capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


def _time_import(module: str, env: dict[str, str]) -> float:
    return _python_c(_IMPORT.format(module), env)[0]


def importtime_added(env: dict[str, str], base: str, module: str) -> list[tuple[str, float]]:
    """Top-level packages `import module` loads after `import base`, with their cumulative import time."""
    proc = subprocess.run([PYTHON, "-X", "importtime", "-c", f"import {base}; import {module}"],
                          cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    # importtime lists modules as they finish: everything after `base` finished belongs to `module`.
    end_of_base = next(i for i, (_, depth, name) in enumerate(rows) if name == base.split(",")[-1].strip()
                       and depth == 1)
    added: dict[str, float] = {}
    for cumulative, _depth, name in rows[end_of_base + 1:]:
        top = name.split(".")[0]
        if top == module.split(".")[0]:
            top = name if name.count(".") <= 2 else ".".join(name.split(".")[:3])
        added[top] = max(added.get(top, 0.0), cumulative / 1e6)
    return sorted(added.items(), key=lambda kv: -kv[1])


def imports(report: Report, reps: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        modes = {"as configured (PYTHONDONTWRITEBYTECODE kept)": _import_env(None),
                 "warm bytecode cache (as installed)": _import_env(cache)}
        for env in modes.values():  # warm the private cache; the first mode writes nothing
            _time_import("pulumi_istio_egress", env)
        results: dict[str, dict[str, list[float]]] = {}
        for label, env in modes.items():
            _progress(f"import times, {label}")
            times: dict[str, list[float]] = {"pulumi": [], "pulumi_istio_egress": [], "paired_added": [],
                                             "paired_k8s": []}
            for r in range(reps):
                order = ("pulumi", "pulumi_istio_egress") if r % 2 == 0 else ("pulumi_istio_egress", "pulumi")
                for module in order:
                    times[module].append(_time_import(module, env))
                _, added_here, k8s = _python_c(_PAIRED, env)
                times["paired_added"].append(added_here)
                times["paired_k8s"].append(k8s)
            results[label] = times
        added = importtime_added(modes["warm bytecode cache (as installed)"], "pulumi", "pulumi_istio_egress")
        pack_added = importtime_added(modes["warm bytecode cache (as installed)"], "pulumi_policy",
                                      "pulumi_istio_egress.policies.pack")
    report.data["import"] = {"times": results, "added": added, "pack_added": pack_added}

    report.say("## Import time")
    report.say()
    report.say(f"Median of {reps} fresh interpreters per module, alternating; time of the `import` statement only.")
    report.say()
    report.say("| bytecode | `import pulumi` | `import pulumi_istio_egress` | difference of medians | "
               "paired: added after `import pulumi` | of which `pulumi_kubernetes.apiextensions` |")
    report.say("|---|---|---|---|---|---|")
    for label, times in results.items():
        p, e = median(times["pulumi"]), median(times["pulumi_istio_egress"])
        paired, k8s = median(times["paired_added"]), median(times["paired_k8s"])
        report.say(f"| {label} | {p * 1e3:.0f} ms | {e * 1e3:.0f} ms | {(e - p) * 1e3:+.0f} ms | "
                   f"{paired * 1e3:+.0f} ms | {k8s * 1e3:.0f} ms |")
        report.targets.append(Target(f"import overhead over pulumi (paired), {label}", paired * 1e3, 50, "ms",
                                     f"difference of medians {(e - p) * 1e3:+.0f} ms", reference=True))
    report.say()
    report.say("What `import pulumi_istio_egress` loads beyond `import pulumi` (`-X importtime`, cumulative):")
    report.say()
    report.say(", ".join(f"`{name}` {sec * 1e3:.1f} ms" for name, sec in added if sec >= 0.0005) or "nothing")
    report.say()
    report.say("What the policy pack's module loads beyond `import pulumi_policy` (cumulative, >= 5 ms):")
    report.say()
    report.say(", ".join(f"`{name}` {sec * 1e3:.0f} ms" for name, sec in pack_added if sec >= 0.005) or "nothing")
    report.say()


# --- policy pack --------------------------------------------------------------------------------

_TRIVIAL_PACK = """from pulumi_policy import PolicyPack, ResourceValidationPolicy
noop = ResourceValidationPolicy(name="noop", description="nothing", validate=lambda args, report: None)
PolicyPack(name="trivial", policies=[noop])
"""


def policy(report: Report, starts: int, per_resource: int, stack_rounds: int, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pack-") as tmp:
        (Path(tmp) / "PulumiPolicy.yaml").write_text("runtime: python\n")
        (Path(tmp) / "__main__.py").write_text(_TRIVIAL_PACK)
        # Ours and a one-policy pack, alternating: the floor is Python + pulumi_policy + gRPC. Judged with
        # bytecode cached for both (a private prefix, as after `pip install`, which compiles what it
        # installs); as configured here (PYTHONDONTWRITEBYTECODE, an editable install: every start
        # compiles our modules from source, the SDK's not at all) for context.
        startup: dict[str, dict[str, list[float]]] = {}
        with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
            for mode, env in (("installed", _import_env(cache)), ("configured", _import_env(None))):
                for pack_dir in (str(ROOT / "policy"), tmp):  # warm the cache, unmeasured
                    run_json([str(HERE / "policy_worker.py"), "startup", "1", pack_dir], env=env)
                times: dict[str, list[float]] = {"ours": [], "trivial": []}
                for r in range(starts):
                    _progress(f"pack start-up ({mode}) round {r + 1}/{starts}")
                    for which in (("ours", "trivial") if r % 2 == 0 else ("trivial", "ours")):
                        pack_dir = str(ROOT / "policy") if which == "ours" else tmp
                        times[which] += run_json([str(HERE / "policy_worker.py"), "startup", "1", pack_dir],
                                                 env=env)["startup"]
                startup[mode] = times
        ours, trivial = startup["installed"]["ours"], startup["installed"]["trivial"]
    _progress(f"per-resource Analyze over {per_resource} objects")
    analyze = run_json([str(HERE / "policy_worker.py"), "analyze", str(per_resource)])
    _progress(f"AnalyzeStack {sizes} x{stack_rounds}")
    stack = run_json([str(HERE / "policy_worker.py"), "stack", str(stack_rounds), *map(str, sizes)], timeout=3600)
    report.data["policy"] = {"startup": ours, "startup_trivial_pack": trivial, "startup_modes": startup,
                             "analyze": analyze, "stack": stack}

    report.say("## Policy pack")
    report.say()
    s, t = median(ours), median(trivial)
    cs, ct = median(startup["configured"]["ours"]), median(startup["configured"]["trivial"])
    report.say(f"Start-up to ready (spawn -> Handshake, ConfigureStack, GetAnalyzerInfo answered), median of {starts}, "
               f"bytecode cached for both packs as after `pip install`: **{s:.2f} s**; a one-policy pack on the same "
               f"SDK, alternating: {t:.2f} s (the floor). As configured here (PYTHONDONTWRITEBYTECODE with an "
               f"editable install: our modules compiled from source at every start, the SDK's cached): {cs:.2f} s "
               f"against {ct:.2f} s.")
    report.targets.append(Target("pack start-up to ready, over the bare SDK's (a one-policy pack)", (s - t) * 1e3, 50,
                                 "ms", f"ours {s:.2f} s, one-policy pack {t:.2f} s; bytecode cached for both"))
    report.targets.append(Target("pack start-up, our modules compiled from source at every start", (cs - ct) * 1e3,
                                 50, "ms", f"ours {cs:.2f} s, one-policy pack {ct:.2f} s", reference=True))
    report.say()
    report.say(f"Per resource ({analyze['objects']} objects of the route mix and the client namespaces' lockdown, no "
               "violations). A rule with nothing to judge says so (`args.not_applicable`), handled as the SDK's "
               f"servicer does: {analyze['not_applicable_crds']:.1f} such calls per object.")
    report.say()
    report.say("| | CRD layer on ($ISTIO_CRDS) | webhook rules only |")
    report.say("|---|---|---|")
    report.say(f"| in-process, the resource rules' functions (`rule.check`) | {analyze['rules_crds'] * 1e3:.2f} ms | "
               f"{analyze['rules_webhook_only'] * 1e3:.2f} ms |")
    report.say(f"| in-process, `pack.policies()` validate callables (proxied props) | "
               f"{analyze['validate_crds'] * 1e3:.2f} ms | {analyze['validate_webhook_only'] * 1e3:.2f} ms |")
    g_on, g_off = analyze["grpc_crds"], analyze["grpc_webhook_only"]
    report.say(f"| gRPC `PolicyPackProcess.analyze` (Remediate + Analyze), median | {g_on['median'] * 1e3:.2f} ms | "
               f"{g_off['median'] * 1e3:.2f} ms |")
    report.say(f"| gRPC, the same policies doing nothing (GC off), median | {g_on['floor_median'] * 1e3:.2f} ms | "
               f"{g_off['floor_median'] * 1e3:.2f} ms |")
    report.say(f"| gRPC, first call of a fresh pack (an Istio object) | {g_on['first'] * 1e3:.0f} ms (loads the CRDs) "
               f"| {g_off['first'] * 1e3:.0f} ms |")
    report.targets.append(Target("per-resource Analyze over gRPC / no-op floor", g_on["median"] / g_on["floor_median"],
                                 1.2, "x", "wall time per call, CRD layer on"))
    report.say()
    report.say(f"AnalyzeStack over gRPC, median of {stack_rounds}, alternating with the floor: a pack with the "
               "same policies doing nothing, GC off (`benchmarks/floor_pack`):")
    report.say()
    report.say("Ratios use the pack process's CPU time (from /proc), its cyclic GC included (the pack runs with "
               "`policies.sdk.tune_gc`, the floor with the GC off); wall time is shown too.")
    report.say()
    report.say("| objects | ours: pack CPU (wall) | floor: pack CPU (wall) | ours / floor (CPU) "
               "| per object (ours, CPU) |")
    report.say("|---|---|---|---|---|")
    med_of: dict[int, float] = {}
    for size in sizes:
        entry = stack[str(size)]
        med_of[size] = median(entry["cpu"])
        fl = median(entry["floor_cpu"])
        report.say(f"| {entry['objects']} | {med_of[size]:.2f} s ({median(entry['times']):.2f} s) | {fl:.2f} s "
                   f"({median(entry['floor']):.2f} s) | {med_of[size] / fl:.2f} | "
                   f"{med_of[size] / entry['objects'] * 1e6:.0f} us |")
        report.targets.append(Target(f"AnalyzeStack of {entry['objects']} objects / no-op floor (GC off)",
                                     med_of[size] / fl, 1.5, "x", "pack CPU, GC included"))
    report.say()
    big, small = max(sizes), min(sizes)
    report.targets.append(Target(f"AnalyzeStack cost({big})/cost({small})", med_of[big] / med_of[small],
                                 big / small * 1.1, "x", f"pack CPU; linear = {big / small:g}"))
    parts = stack["parts"]
    report.say(f"Where AnalyzeStack's time goes at {int(parts['objects'])} objects (each part timed in-process):")
    report.say()
    report.say("| part | time |")
    report.say("|---|---|")
    for key, value in parts.items():
        if key != "objects":
            report.say(f"| {key} | {value:.2f} s |")
    report.say()


# --- render ------------------------------------------------------------------------------------


def write_program(directory: Path, n: int) -> None:
    """The repository's root program with n routes in its stack config."""
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    (directory / "Pulumi.yaml").write_text("name: istio-egress\nruntime: python\n")
    config = {"config": {"istio-egress:routes": routes(n)}}
    (directory / "Pulumi.dev.yaml").write_text(json.dumps(config))  # JSON is YAML


_HAND_PROGRAM = """import json
from pathlib import Path

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

# The same objects and outputs as the EgressRoute program, written out by hand (as literals, read
# from a file so the program text stays small).
for route in json.loads((Path(__file__).parent / "routes.json").read_text()):
    parent = pulumi.ComponentResource("istio-egress:index:EgressRoute", route["name"], {}, None)
    opts = pulumi.ResourceOptions(parent=parent)
    for child in route["children"]:
        CustomResource(child["name"], api_version=child["apiVersion"], kind=child["kind"],
                       metadata=child["metadata"], spec=child["spec"], opts=opts)
    parent.register_outputs(route["outputs"])
"""


def write_hand_program(directory: Path, n: int) -> None:
    """A program declaring exactly the objects (and outputs) of ``write_program``'s, by hand."""
    from pulumi_istio_egress import parse_route
    from pulumi_istio_egress.component import _outputs
    from pulumi_istio_egress.manifests import keyed_manifests

    data = []
    for name, args in routes(n).items():
        plan = keyed_manifests(parse_route(args))
        data.append({"name": name, "outputs": _outputs(plan), "children": [
            {"name": f"{name}-{key}", "apiVersion": m["apiVersion"], "kind": m["kind"], "metadata": m["metadata"],
             "spec": m["spec"]} for key, m in plan.items()]})
    (directory / "__main__.py").write_text(_HAND_PROGRAM)
    (directory / "Pulumi.yaml").write_text("name: istio-egress\nruntime: python\n")
    (directory / "Pulumi.dev.yaml").write_text("config: {}\n")
    (directory / "routes.json").write_text(json.dumps(data))


def render(report: Report, sizes: list[int], rounds: int) -> None:
    """Render of the routes program vs a hand-written program with the same objects, both through
    ``render_program`` + ``to_yaml``, in fresh processes, alternating."""
    results: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for n in sizes:
        results[n] = {"ours": [], "hand": []}
        with tempfile.TemporaryDirectory(prefix="bench-render-") as ours, \
                tempfile.TemporaryDirectory(prefix="bench-render-hand-") as hand:
            write_program(Path(ours), n)
            write_hand_program(Path(hand), n)
            for r in range(rounds):
                for which in (("ours", "hand") if r % 2 == 0 else ("hand", "ours")):
                    _progress(f"render {which} N={n} round {r + 1}/{rounds}")
                    results[n][which].append(run_json([str(HERE / "render_worker.py"),
                                                       ours if which == "ours" else hand], timeout=3600))
    report.data["render"] = results
    for n in sizes:  # the hand-written program is only a floor if it renders the same YAML
        shapes = {which: {(x["objects"], x["bytes"]) for x in runs} for which, runs in results[n].items()}
        if shapes["ours"] != shapes["hand"]:
            raise RuntimeError(f"N={n}: ours and the hand-written program rendered (objects, bytes) {shapes}")
    report.say("## Offline render")
    report.say()
    report.say(f"`render_program` + `to_yaml`, median of {rounds} fresh processes per variant, alternating: the root "
               "program with N routes against a hand-written program declaring the same objects and outputs through "
               "the same render path. CPU time of the whole process, the cyclic GC included; `gc` = its share of "
               "wall time.")
    report.say()
    report.say("| N routes | objects | ours: CPU (wall) | hand-written: CPU (wall) | ours / hand "
               "| gc share (ours / hand) | peak RSS ours / hand |")
    report.say("|---|---|---|---|---|---|---|")
    cpu: dict[int, float] = {}
    for n in sizes:
        o, h = results[n]["ours"], results[n]["hand"]
        cpu[n] = median([x["cpu"] for x in o])
        hand_cpu = median([x["cpu"] for x in h])
        gc_o = median([x["gc"] / x["seconds"] for x in o])
        gc_h = median([x["gc"] / x["seconds"] for x in h])
        rss_o, rss_h = median([x["rss_peak_mib"] for x in o]), median([x["rss_peak_mib"] for x in h])
        report.say(f"| {n} | {o[0]['objects']} | {cpu[n]:.2f} s ({median([x['seconds'] for x in o]):.2f} s) | "
                   f"{hand_cpu:.2f} s ({median([x['seconds'] for x in h]):.2f} s) | {cpu[n] / hand_cpu:.2f} | "
                   f"{gc_o:.0%} / {gc_h:.0%} | {rss_o:.0f} / {rss_h:.0f} MiB |")
        report.targets.append(Target(f"render of {n} routes / hand-written program", cpu[n] / hand_cpu, 1.3, "x",
                                     "CPU time, GC included"))
        report.targets.append(Target(f"render of {n} routes: peak RSS", rss_o, rss_h, "MiB",
                                     f"hand-written {rss_h:.0f} MiB", reference=True))
    report.say()
    small, big = min(sizes), max(sizes)
    if big > small:
        report.targets.append(Target(f"render cost({big})/cost({small})", cpu[big] / cpu[small], big / small * 1.1,
                                     "x", f"CPU time; linear = {big / small:g}"))


# --- check end to end ----------------------------------------------------------------------------


def _checkov() -> str | None:
    """checkov from PATH or from the benchmark's own virtualenv (``benchmarks/setup-checkov.sh``)."""
    own = ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(own) if own.exists() else shutil.which("checkov")


def _timed(argv: list[str], ok: tuple[int, ...]) -> dict[str, float]:
    """Wall and CPU time (children included) of one whole command."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return {"seconds": wall, "cpu": (after.children_user - before.children_user)
            + (after.children_system - before.children_system)}


def check(report: Report, sizes: list[int], rounds: int, baseline: str | None) -> None:
    """``pulumi-istio-egress check FILE.yaml`` end to end against checkov on the same file, and
    against another installation (``--baseline``, e.g. the previous release), alternating."""
    from common import to_yaml
    from policy_worker import manifests

    checkov = _checkov()
    tools: dict[str, list[str]] = {"ours": [str(Path(PYTHON).parent / "pulumi-istio-egress"), "check"]}
    if checkov:
        tools["checkov"] = [checkov, "--framework", "kubernetes", "--quiet", "--compact", "-f"]
    if baseline:
        tools["baseline"] = [str(Path(baseline) / "bin" / "pulumi-istio-egress"), "check"]
    results: dict[int, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"stack-{n}.yaml"
            path.write_text(to_yaml(manifests(n)))
            results[n] = {name: [] for name in tools}
            for r in range(rounds):
                order = list(tools) if r % 2 == 0 else list(reversed(tools))
                for name in order:
                    _progress(f"check {name} N={n} round {r + 1}/{rounds}")
                    # checkov exits 1 when one of its checks fails (it has none for Istio kinds, but it
                    # judges nothing else either); ours must pass the clean stack. Each installation runs
                    # the pack it ships (no --policy-pack), as a user's `check FILE` does.
                    argv = [*tools[name], str(path)]
                    results[n][name].append(_timed(argv, (0, 1) if name == "checkov" else (0,)))
    report.data["check"] = results
    report.say("## `check` end to end")
    report.say()
    report.say("A YAML file of N objects (the route mix and its client namespaces' lockdown, clean), median of "
               f"{rounds} whole commands per tool, alternating; each installation runs the pack it ships. "
               + ("" if checkov else "checkov was not found (run `bash benchmarks/setup-checkov.sh`). ")
               + ("" if baseline else "No `--baseline` installation was given. "))
    report.say()
    report.say("| objects | " + " | ".join(f"{name}: wall (CPU)" for name in tools) + " |")
    report.say("|---|" + "---|" * len(tools))
    def wall(n: int, tool: str) -> float:
        return median([x["seconds"] for x in results[n][tool]])

    for n in sizes:
        cells = [f"{wall(n, t):.2f} s ({median([x['cpu'] for x in results[n][t]]):.2f} s)" for t in tools]
        report.say(f"| {n} | " + " | ".join(cells) + " |")
    report.say()
    # Issue 17: never slower than checkov at every size; half of the baseline (today's) at the largest.
    for n in sizes:
        report.targets.append(Target(
            f"check of {n} objects / `checkov -f FILE --framework kubernetes`",
            wall(n, "ours") / wall(n, "checkov") if checkov else 0.0, 1.0, "x",
            "wall time, end to end" if checkov else "checkov not found: bash benchmarks/setup-checkov.sh",
            measured=bool(checkov)))
    big = max(sizes)
    report.targets.append(Target(
        f"check of {big} objects / baseline", wall(big, "ours") / wall(big, "baseline") if baseline else 0.0, 0.5,
        "x", f"wall time, end to end; baseline {baseline}" if baseline else "no --baseline VENV given",
        measured=bool(baseline)))


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, help="also write every raw measurement here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--baseline", help="a virtualenv with another pulumi-istio-egress (e.g. the last release) for "
                                           "the check section to compare against")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    report = Report([], [], {"machine": machine()})
    m = report.data["machine"]
    report.say(f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}, {m['date']}")
    report.say()
    q = args.quick
    runs: dict[str, Callable[[], None]] = {
        "registration": lambda: registration(report, {100: 3, 1000: 1} if q else {100: 5, 1000: 3}),
        "import": lambda: imports(report, 10 if q else 30),
        "policy": lambda: policy(report, 3 if q else 7, 200 if q else 500, 1 if q else 3, [1000, 10000]),
        "render": lambda: render(report, [1000, 5000], 1 if q else 2),
        "check": lambda: check(report, [1000, 10000], 1 if q else 3, args.baseline),
    }
    started = time.perf_counter()
    for section in SECTIONS:
        if section in only:
            runs[section]()
    report.say("## Targets")
    report.say()
    report.say("| target | measured | limit | verdict | note |")
    report.say("|---|---|---|---|---|")
    for target in report.targets:
        report.say(target.row())
    report.say()
    report.say(f"(benchmark wall time {time.perf_counter() - started:.0f} s)")
    if args.json:
        report.data["targets"] = [vars(t) | {"met": t.met} for t in report.targets]
        args.json.write_text(json.dumps(report.data, indent=1))
    missed = [t for t in report.targets if not t.met and not t.reference]
    if args.check and missed:
        print(f"\n{len(missed)} target(s) missed: " + "; ".join(t.name for t in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
