"""Per-step training metrics: JSONL (one object per step), TensorBoard scalars, sample completions.

Outputs under the run directory:
- `metrics.jsonl`: {"step": s, <name>: value, ...} per step (numbers only);
- `tb/`: TensorBoard event files with the same scalars (tag = metric name);
- `samples.jsonl`: a few completions per step with prompt, gold, reward and reason.

On resume `truncate_after(step)` drops JSONL lines written after the checkpoint being resumed, so
the file reads as one uninterrupted run.

    log = MetricsLogger(run_dir); log.log(3, {"reward/mean": 0.4}); log.close()
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

METRICS_NAME = "metrics.jsonl"
SAMPLES_NAME = "samples.jsonl"


def _truncate_jsonl(path: Path, step: int) -> None:
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    path.write_text("".join(k + "\n" for k in keep), encoding="utf-8")


class MetricsLogger:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True, enabled: bool = True):
        self.dir = Path(run_dir)
        self.enabled = enabled
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: JSONL only
                SummaryWriter = None
            if SummaryWriter is not None:
                self._tb = SummaryWriter(log_dir=str(self.dir / "tb"))

    def truncate_after(self, step: int) -> None:
        """Forget lines for steps > `step` (written after the checkpoint we resume from)."""
        if self.enabled:
            _truncate_jsonl(self.dir / METRICS_NAME, step)
            _truncate_jsonl(self.dir / SAMPLES_NAME, step)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}
        with open(self.dir / METRICS_NAME, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **clean}, sort_keys=True) + "\n")
        if self._tb is not None:
            for k, v in clean.items():
                self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        if not self.enabled or not rows:
            return
        with open(self.dir / SAMPLES_NAME, "a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"step": step, **r}, default=str) + "\n")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


_peak_seen_mib = 0.0  # the highest peak reported so far in this process


def memory_mib() -> dict[str, float]:
    """This process's resident memory now and at its peak (Linux VmRSS / VmHWM, MiB); the peak only elsewhere.

    The kernel's RSS counters are approximate (per-CPU batches), so two reads of VmHWM can go down by a few pages;
    the peak reported here is the highest seen by this process, never below the current reading."""
    global _peak_seen_mib
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["mem/rss_mib" if key == "VmRSS" else "mem/peak_rss_mib"] = int(rest.split()[0]) / 1024
    except OSError:  # no procfs (macOS, Windows): getrusage's peak (bytes on macOS, KiB on Linux/BSD)
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["mem/peak_rss_mib"] = peak / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    _peak_seen_mib = max(_peak_seen_mib, *out.values())
    out["mem/peak_rss_mib"] = _peak_seen_mib
    return out


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    p = Path(run_dir) / METRICS_NAME
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
