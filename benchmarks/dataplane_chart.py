"""Chart of a data-plane benchmark run: gateway CPU per request as a ratio to PASSTHROUGH.

    .venv/bin/python -m pip install -e '.[bench]'        # matplotlib
    .venv/bin/python benchmarks/dataplane_chart.py RUN.json benchmarks/dataplane.png

Left: each configuration against PASSTHROUGH with the same client behaviour (kept-alive, new per request),
per key type. Right: apps that reconnect per request, each pattern in the connection mode its gateway sees
in a mesh (dataplane.MESH_MODE). Ratios only: the run's machine was shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def chart(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, mesh = report["rows"], report["mesh"]
    keys = list(dict.fromkeys(r["key"] for r in rows))
    configs = list(dict.fromkeys(r["config"] for r in rows))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    groups = [(key, mode) for key in keys for mode in modes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [3, 2]})

    width = 0.8 / len(configs)
    for i, config in enumerate(configs):
        values = [next((r["cpu_ratio"] for r in rows if (r["key"], r["mode"], r["config"]) == (key, mode, config)),
                       float("nan")) for key, mode in groups]
        positions = [g + (i - (len(configs) - 1) / 2) * width for g in range(len(groups))]
        bars = left.bar(positions, values, width, label=config)
        left.bar_label(bars, fmt="%.2f", fontsize=7)
    left.set_xticks(range(len(groups)), [f"{key}\n{mode}" for key, mode in groups], fontsize=8)
    left.axhline(1.0, color="black", linewidth=0.8)
    left.set_ylabel("gateway CPU per request / PASSTHROUGH's (same client behaviour)")
    left.set_title("Same client behaviour at the gateway", fontsize=10)
    top = max(r["cpu_ratio"] for r in rows)
    left.set_ylim(0, top * 1.3)  # room for the legend above the bars
    left.legend(fontsize=8, ncol=3, loc="upper center")

    mesh_configs = list(dict.fromkeys(r["config"] for r in mesh))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        values = [next(r["cpu_ratio"] for r in mesh if (r["key"], r["config"]) == (key, config))
                  for config in mesh_configs]
        positions = [c + (i - (len(keys) - 1) / 2) * width for c in range(len(mesh_configs))]
        bars = right.bar(positions, values, width, label=key)
        right.bar_label(bars, fmt="%.2f", fontsize=7)
    sees = {r["config"]: r["gateway_sees"] for r in mesh}
    right.set_xticks(range(len(mesh_configs)), [f"{c.replace(' ', chr(10))}\n({sees[c]})" for c in mesh_configs],
                      fontsize=8)
    right.axhline(1.0, color="black", linewidth=0.8)
    right.set_ylabel("gateway CPU per request / PASSTHROUGH's")
    right.set_title("Apps reconnecting per request, in a mesh", fontsize=10)
    right.legend(fontsize=8)

    machine = report["machine"]
    fig.suptitle(f"Envoy {machine['envoy'].split('/')[1]} egress gateway, medians of per-round ratios "
                 f"({report['plan']['rounds']} round(s); {machine['nproc']} shared CPUs, {machine['date']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    chart(json.loads(Path(argv[0]).read_text()), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
