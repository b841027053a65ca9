"""Weighted multi-objective rewards from config: outcome + format + overlong + process penalty.

Inputs: rows (a `data.schema.Row` or a dict with `verifier`, `gold`, optional `options`; a Row's
per-row verifier options live in `metadata["verifier_options"]`), their completions, optional token
lengths, and a list of `RewardSpec(name, weight, options)`:
    name = "outcome"   the row's own verifier (`row.verifier`), score in [0, 1] x weight
           "overlong"  DAPO soft overlong punishment in [-1, 0] x weight (options: max_len, cache_len;
                       needs the completion's token length)
           "process"   rule-based step check: -weight if any step is confidently false, else 0 (a capped
                       min-form penalty on the first error; verified steps never add reward)
           any other registry name (e.g. "format_r1"): its score in [0, 1] x weight
Output: one `Reward(total, components, results)` per row; `total` is None when the outcome is skipped
(gold unparsable / infrastructure failure): the trainer drops the row instead of scoring it 0.
Every check runs through the `VerifierPool` in one batch, so deadlines apply to all of them.

Example (YAML):
    rewards:
      - {name: outcome, weight: 1.0}
      - {name: format_r1, weight: 0.1, options: {prefilled_think: null}}
      - {name: overlong, weight: 1.0, options: {max_len: 4096, cache_len: 512}}
      - {name: process, weight: 0.2}
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from rewards import registry
from rewards.base import VerifyResult
from rewards.format import overlong_penalty
from rewards.pool import ScoreItem, VerifierPool
from rewards.process import FALSE_STEP

OUTCOME, OVERLONG, PROCESS = "outcome", "overlong", "process"


@dataclasses.dataclass
class RewardSpec:
    name: str = OUTCOME
    """'outcome' (the row's own verifier), 'overlong', 'process', or a registry name such as 'format_r1'."""
    weight: float = 1.0
    """Multiplier of this objective's component (for 'process' and 'overlong': the size of the penalty)."""
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Options passed to the verifier (merged over the row's own options for 'outcome')."""

    def validate(self) -> None:
        if self.name not in (OUTCOME, OVERLONG) and self.name not in registry.names():
            registry.get(self.name)  # raises KeyError with a did-you-mean hint
        if self.weight < 0:
            raise ValueError(f"reward {self.name!r}: weight must be >= 0 (penalties are negative by construction)")
        if self.name == OVERLONG:
            overlong_penalty(0, int(self.options.get("max_len", 0)), int(self.options.get("cache_len", -1)))


@dataclasses.dataclass
class Reward:
    total: float | None  # None: skip this row (outcome skipped)
    components: dict[str, float]  # objective name -> weighted contribution
    results: dict[str, VerifyResult]  # objective name -> raw verifier result (outcome, format_r1, process...)


def row_fields(row: Any) -> tuple[str, Any, dict]:
    """(verifier key, gold, the row's own verifier options) of a Row or a plain dict row."""
    if isinstance(row, dict):
        return row["verifier"], row.get("gold", row.get("tests")), dict(row.get("options") or {})
    return row.verifier, row.gold, dict((getattr(row, "metadata", None) or {}).get("verifier_options") or {})


def _items(spec: RewardSpec, row: Any, completion: str) -> ScoreItem | None:
    verifier, gold, row_opts = row_fields(row)
    if spec.name == OUTCOME:
        return ScoreItem(verifier, completion, gold, {**row_opts, **spec.options})
    if spec.name == OVERLONG:
        return None
    return ScoreItem(spec.name, completion, gold, dict(spec.options))


def _component(spec: RewardSpec, res: VerifyResult | None, length: int | None) -> float:
    if spec.name == OVERLONG:
        if length is None:
            raise ValueError("the 'overlong' reward needs each completion's token length")
        return spec.weight * overlong_penalty(length, int(spec.options["max_len"]), int(spec.options["cache_len"]))
    if spec.name == PROCESS:
        return -spec.weight if res is not None and res.reason == FALSE_STEP else 0.0  # a timeout is no error found
    return spec.weight * (res.score or 0.0)


def combine_batch(pool: VerifierPool, rows: Sequence[Any], completions: Sequence[str],
                  specs: Sequence[RewardSpec], lengths: Sequence[int] | None = None) -> list[Reward]:
    """Score every (row, completion) under every objective in one pool batch; results in input order."""
    if len(rows) != len(completions) or (lengths is not None and len(lengths) != len(rows)):
        raise ValueError("rows, completions and lengths must have the same length")
    if sum(s.name == OUTCOME for s in specs) != 1:
        raise ValueError("exactly one 'outcome' reward spec is required")
    plan, items = [], []
    for row, completion in zip(rows, completions):
        for spec in specs:
            item = _items(spec, row, completion)
            plan.append(len(items) if item is not None else None)
            if item is not None:
                items.append(item)
    scored = pool.score_batch(items)
    out, k = [], 0
    for i in range(len(rows)):
        comps, results, skipped = {}, {}, False
        for spec in specs:
            idx = plan[k]
            k += 1
            res = scored[idx] if idx is not None else None
            if res is not None:
                results[spec.name] = res
            if spec.name == OUTCOME and res.skipped:
                skipped = True
            comps[spec.name] = _component(spec, res, None if lengths is None else lengths[i])
        total = None if skipped else sum(comps.values())
        out.append(Reward(total, comps, results))
    return out


def combine(pool: VerifierPool, row: Any, completion: str, specs: Sequence[RewardSpec],
            length: int | None = None) -> Reward:
    """One row: see `combine_batch`."""
    return combine_batch(pool, [row], [completion], specs, None if length is None else [length])[0]
