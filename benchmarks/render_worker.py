"""``render_worker.py PROGRAM_DIR``: render a program offline in this fresh interpreter; print one JSON line.

Reports the render time (render_program + to_yaml), the peak RSS of the process (ru_maxrss), the
RSS after imports (what any Pulumi program pays), the time inside the cyclic GC, the object count and the YAML size.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pulumi_kubernetes.apiextensions  # noqa: F401 - imported by the program anyway; counted as baseline

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GcClock, render_program, to_yaml


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    baseline = _rss_mib()
    clock = GcClock()
    start, cpu = time.perf_counter(), time.process_time()
    objects = render_program(sys.argv[1], stack="dev")
    rendered = time.perf_counter()
    text = to_yaml(o.manifest for o in objects)
    done = time.perf_counter()
    print(json.dumps({"seconds": done - start, "cpu": time.process_time() - cpu, "render": rendered - start,
                      "yaml": done - rendered, "gc": clock.total, "objects": len(objects), "bytes": len(text.encode()),
                      "rss_import_mib": baseline, "rss_peak_mib": _rss_mib()}))


if __name__ == "__main__":
    main()
