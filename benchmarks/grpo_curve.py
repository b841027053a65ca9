"""Print a training run's learning curve from its metrics.jsonl (one line per step).

    python benchmarks/grpo_curve.py runs/train_embedded
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLS = [("step", "step", "{:>4.0f}"), ("reward", "reward/mean", "{:>6.3f}"), ("acc", "accuracy", "{:>5.3f}"),
        ("answered", "reward/outcome_answered/mean", "{:>8.3f}"), ("zero_var", "zero_variance_frac", "{:>8.2f}"),
        ("len", "completion_len/mean", "{:>5.1f}"), ("trunc", "truncation_rate", "{:>5.2f}"),
        ("entropy", "entropy", "{:>7.3f}"), ("s/step", "time/step", "{:>6.0f}"), ("cpu_s", "time/process_cpu_total", "{:>6.0f}")]


def main() -> int:
    run = Path(sys.argv[1])
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    print(" ".join(f"{name:>{max(4, len(name))}}" for name, _, _ in COLS))
    wall = 0.0
    for r in rows:
        wall += r.get("time/step", 0.0)
        print(" ".join(fmt.format(r[key]).rjust(max(4, len(name))) if key in r else "-".rjust(max(4, len(name)))
                       for name, key, fmt in COLS))
    print(f"steps {len(rows)}, wall seconds in steps {wall:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
