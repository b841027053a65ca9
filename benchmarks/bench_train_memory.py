"""Peak resident memory and seconds per step of the train stage, for config variants run back to back.

Each variant is the train stage (scripts/03_train.py) in its own fresh process on the same curated data,
the same seed and the same number of steps, with `key=value` overrides of the train config; a checkpoint
is written within the run (`checkpoint_every`), since writing one used to raise the peak. Printed per
variant: steps, mean seconds per step (steps after the first), mean update and rollout seconds, and the
process's peak resident memory (the largest `ru_maxrss` among the stage process and the verifier workers it
waited for, read by a wrapper process per variant, so it works for any version of the code; the train manifest
now records the same figure as `peak_rss_mib`) and, where the metrics carry it, the step at which it was reached.
`name@/path/to/checkout: overrides` runs that checkout's train script (an older commit, for a before/after);
an override `env:NAME=VALUE` sets an environment variable for that variant's process instead (allocator
settings, `LD_PRELOAD` of another malloc).

    git worktree add /tmp/before <old commit>
    python benchmarks/bench_train_memory.py --data runs/curate_embedded --steps 8 \
        --variant "before@/tmp/before: grad_accum=4" --variant "after:"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")  # KiB on Linux


def run_variant(args, repo: Path, overrides: list[str], out: Path) -> dict:
    env_overrides = [t for t in overrides if t.startswith("env:")]
    overrides = [t for t in overrides if not t.startswith("env:")]
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, str(repo / "scripts/03_train.py"),
           "--config", str(repo / args.config), "--data", args.data, "--out", str(out),
           f"total_steps={args.steps}", f"checkpoint_every={args.checkpoint_every}",
           "max_minutes=null", *overrides]
    env = dict(os.environ, **dict(t[4:].split("=", 1) for t in env_overrides))
    peak_kib = int(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=repo, env=env).stdout.split()[-1])
    man = json.loads((out / "manifest.json").read_text())["metrics"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    later = lines[1:] or lines
    peak_step = (next(x["step"] for x in lines if x["mem/peak_rss_mib"] >= lines[-1]["mem/peak_rss_mib"])
                 if "mem/peak_rss_mib" in lines[-1] else -1)
    return {"steps": man["steps"], "s_step": statistics.fmean(x["time/step"] for x in later),
            "update_s": statistics.fmean(x["time/update"] for x in later),
            "rollout_s": statistics.fmean(x["time/rollout"] for x in later),
            "peak_mib": peak_kib / 1024, "manifest_peak_mib": man.get("peak_rss_mib"), "peak_step": peak_step,
            "precision": man["mixed_precision"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a curate stage directory (an absolute path, or relative to here)")
    ap.add_argument("--config", default="configs/train_embedded.yaml", help="relative: within each variant's checkout")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--checkpoint-every", type=int, default=4)
    ap.add_argument("--variant", action="append", required=True,
                    help='"name: key=value key=value" (overrides of the train config); repeatable')
    args = ap.parse_args(argv)
    args.data = str(Path(args.data).resolve())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(args.variant):
            name, _, rest = spec.partition(":")
            name, _, repo = name.partition("@")
            res = run_variant(args, Path(repo or REPO).resolve(), rest.split(), Path(tmp) / f"v{i}")
            rows.append((name.strip(), rest.strip(), res))
            print(f"{name.strip()}: {res}", flush=True)
    print(f"{'variant':10s} {'overrides':28s} {'steps':>5s} {'s/step':>7s} {'update s':>9s} {'rollout s':>10s} "
          f"{'peak RSS MiB':>13s} {'at step':>8s}")
    for name, rest, r in rows:
        print(f"{name:10s} {rest or '(config as shipped)':28s} {r['steps']:5d} {r['s_step']:7.1f} {r['update_s']:9.1f} "
              f"{r['rollout_s']:10.1f} {r['peak_mib']:13.0f} {r['peak_step']:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
