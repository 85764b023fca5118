"""Run every benchmark (``make bench``); each writes results/<name>.json and .md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: realism_bench.py reads real frames from <repo>/../shared/realdata (its default) and skips when absent
BENCHES = [
    "synth_bench.py",
    "scale_bench.py",
    "eval_bench.py",
    "benchmark_bench.py",
    "learn_bench.py",
    "render_bench.py",
    "realism_bench.py",
]

if __name__ == "__main__":
    extra = sys.argv[1:]
    rc = 0
    for name in BENCHES:
        path = HERE / name
        if path.exists():
            print(f"== {name}", flush=True)
            rc |= subprocess.call([sys.executable, str(path), *extra], cwd=HERE)
    sys.exit(rc)
