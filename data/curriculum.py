"""Difficulty buckets and the curriculum schedule the trainer follows.

Buckets, easiest first:
- `difficulty`: the base model's pass rate p in [0, 1] (from the difficulty stage), cut into
  `num_buckets` equal-width bands of (1 - p): "d0" (p near 1, easiest) ... "d{B-1}" (never solved);
- `level`: source levels (MATH 1-5, procedural 1-5) as "L1".."L5"; rows without a level go to
  "L0" (first: in practice GSM8K and other unlevelled grade-school sets);
- `none`: one bucket "all". `auto` picks difficulty if every row has it, else level.

Schedules (which rows step s may draw from):
- `uniform`: every row;
- `easy_to_hard`: at step s, buckets 0..k are open with k = floor(min(1, s / ramp_steps) * (B - 1));
  rows are drawn uniformly over the open rows (so a bucket's share is its size);
- `band`: only rows whose pass rate lies in [band_low, band_high] (the informative middle:
  always-solved and never-solved problems give GRPO zero advantage).

Sampling is without replacement inside each bucket: every bucket has its own order (a shuffle
seeded by (seed, bucket, epoch)) and a cursor; an exhausted bucket reshuffles for its next epoch.
The bucket of each of the n slots is drawn with `random.Random(f"{seed}/{step}")` (or the `rng`
passed in). So `sample(step, n)` depends only on (seed, step, cursors): save `state_dict()` with
the checkpoint and `load_state_dict()` on resume to continue exactly.

    cur = Curriculum.from_dataset(rows, CurriculumConfig(schedule="easy_to_hard", ramp_steps=200))
    batch = cur.sample(step, 8)            # list[Row]
    ckpt["curriculum"] = cur.state_dict()
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Literal

from data.schema import Row


@dataclasses.dataclass
class CurriculumConfig:
    bucket_by: Literal["auto", "difficulty", "level", "none"] = "auto"
    """What defines buckets: base-model pass rate, source level, or nothing."""
    num_buckets: int = 3
    """Number of pass-rate buckets when bucketing by difficulty."""
    schedule: Literal["uniform", "easy_to_hard", "band"] = "uniform"
    """Which rows each step may draw from (see module docstring)."""
    ramp_steps: int = 100
    """easy_to_hard: the step by which every bucket is open."""
    band_low: float = 0.1
    """band: lowest pass rate kept (inclusive)."""
    band_high: float = 0.9
    """band: highest pass rate kept (inclusive)."""
    seed: int = 0
    """Seed of bucket orders and per-step bucket draws."""

    def validate(self) -> None:
        from pipeline.config import ConfigError

        if self.num_buckets < 1:
            raise ConfigError(f"curriculum.num_buckets must be >= 1, got {self.num_buckets}")
        if self.ramp_steps < 1:
            raise ConfigError(f"curriculum.ramp_steps must be >= 1, got {self.ramp_steps}")
        if not 0 <= self.band_low <= self.band_high <= 1:
            raise ConfigError(f"curriculum.band_low/band_high: need 0 <= {self.band_low} <= {self.band_high} <= 1")


def resolve_bucket_by(rows: list[Row], by: str) -> str:
    if by != "auto":
        return by
    if rows and all(r.difficulty is not None for r in rows):
        return "difficulty"
    return "level" if any(r.metadata.get("level") is not None for r in rows) else "none"


def bucket_of(row: Row, by: str, num_buckets: int = 3) -> str:
    if by == "difficulty":
        if row.difficulty is None:
            raise ValueError(f"row {row.id} has no difficulty; run the difficulty stage or bucket by level")
        return f"d{min(int((1.0 - row.difficulty) * num_buckets), num_buckets - 1)}"
    if by == "level":
        level = row.metadata.get("level")
        return f"L{int(level)}" if isinstance(level, (int, float)) or str(level).isdigit() else "L0"
    return "all"


def _bucket_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def bucket_rows(rows: list[Row], by: str = "auto", num_buckets: int = 3) -> dict[str, list[Row]]:
    """Buckets in easy-to-hard order (dict order)."""
    by = resolve_bucket_by(rows, by)
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(bucket_of(r, by, num_buckets), []).append(r)
    return {k: out[k] for k in sorted(out, key=_bucket_order)}


class Curriculum:
    def __init__(self, buckets: dict[str, list[Row]], cfg: CurriculumConfig):
        if not any(buckets.values()):
            raise ValueError("curriculum has no rows (check the dataset split and the band limits)")
        self.cfg = cfg
        self.buckets = {k: v for k, v in buckets.items() if v}
        self.names = list(self.buckets)
        self._cursor: dict[str, list[int]] = {k: [0, 0] for k in self.names}  # bucket -> [epoch, position]
        self._orders: dict[tuple[str, int], list[int]] = {}

    @classmethod
    def from_dataset(cls, rows: list[Row], cfg: CurriculumConfig | None = None) -> "Curriculum":
        cfg = cfg or CurriculumConfig()
        rows = [r for r in rows if r.split == "train"] or list(rows)
        if cfg.schedule == "band":
            missing = [r.id for r in rows if r.difficulty is None]
            if missing:
                raise ValueError(f"band schedule needs pass rates; {len(missing)} rows have none (e.g. {missing[0]})")
            rows = [r for r in rows if cfg.band_low <= r.difficulty <= cfg.band_high]
        return cls(bucket_rows(rows, cfg.bucket_by, cfg.num_buckets), cfg)

    def open_buckets(self, step: int) -> list[str]:
        if self.cfg.schedule != "easy_to_hard" or len(self.names) == 1:
            return list(self.names)
        frac = min(1.0, max(0, step) / self.cfg.ramp_steps)
        k = int(frac * (len(self.names) - 1) + 1e-9)
        return self.names[: k + 1]

    def _order(self, name: str, epoch: int) -> list[int]:
        key = (name, epoch)
        if key not in self._orders:
            order = list(range(len(self.buckets[name])))
            random.Random(f"{self.cfg.seed}/{name}/{epoch}").shuffle(order)
            self._orders = {k: v for k, v in self._orders.items() if k[0] != name}  # keep one epoch per bucket
            self._orders[key] = order
        return self._orders[key]

    def _next(self, name: str) -> Row:
        epoch, pos = self._cursor[name]
        order = self._order(name, epoch)
        row = self.buckets[name][order[pos]]
        pos += 1
        self._cursor[name] = [epoch + 1, 0] if pos == len(order) else [epoch, pos]
        return row

    def sample(self, step: int, n: int, rng: random.Random | None = None) -> list[Row]:
        """n rows for training step `step` (deterministic given seed, step and the saved state)."""
        rng = rng or random.Random(f"{self.cfg.seed}/{step}")
        open_ = self.open_buckets(step)
        weights = [len(self.buckets[b]) for b in open_]
        return [self._next(b) for b in rng.choices(open_, weights=weights, k=n)]

    def state_dict(self) -> dict[str, Any]:
        return {"cursors": {k: list(v) for k, v in self._cursor.items()}, "buckets": {k: len(v) for k, v in self.buckets.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sizes = {k: len(v) for k, v in self.buckets.items()}
        if state.get("buckets") != sizes:
            raise ValueError(f"curriculum state was saved for buckets {state.get('buckets')}, this dataset has {sizes}")
        self._cursor = {k: list(v) for k, v in state["cursors"].items()}

    def describe(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.buckets.items()}
