"""Score completions with the registry's verifiers in worker processes and combine objectives.

Input: rows (each names its verifier and carries its gold), completion texts, and the config's
weighted objectives (`RewardSpec`: verifier key or "row", weight, options). Output: `Scores` with
the combined reward per completion (None when every objective skipped it), the score of each
objective, and the `VerifyResult.reason` of each objective (counted in the training metrics).

Scoring goes through `rewards.pool.VerifierPool` (pre-forked workers, per-item deadlines), so a
hanging or exploding verifier cannot stall training. Combination: weighted sum over the
objectives that judged the completion; an objective that skipped it contributes nothing, and a
completion skipped by every objective gets reward None (dropped from the loss).

    scorer = Scorer(cfg.rewards, workers=2, deadline_s=5.0)
    scores = scorer.score(rows, texts)
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any, Sequence

from pipeline.grpo.config import RewardSpec


@dataclasses.dataclass
class Scores:
    reward: list[float | None]  # combined reward per completion
    per_objective: dict[str, list[float | None]]  # objective name -> score per completion
    reasons: dict[str, list[str]]  # objective name -> reason per completion
    correct: list[bool]  # the row's own verifier gave score 1.0 (outcome accuracy)
    first_false: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)  # process verifier's
    # character span of the first false step per completion (only when a "process" objective is configured)

    def reason_counts(self) -> dict[str, int]:
        c: collections.Counter = collections.Counter()
        for name, rs in self.reasons.items():
            c.update(f"{name}/{r}" for r in rs)
        return dict(c)


NOT_ANSWERED = ("no_answer", "parse_error", "hedge", "unevaluated")  # no format credit for restating the problem


def objective_name(spec: RewardSpec) -> str:
    base = spec.name or ("outcome" if spec.verifier == "row" else spec.verifier)
    return base + "_answered" if spec.signal == "answered" and not spec.name else base


class Scorer:
    def __init__(self, specs: Sequence[RewardSpec], workers: int = 2, deadline_s: float = 5.0,
                 plugins: Sequence[str] = ()):
        from rewards.pool import VerifierPool

        self.specs = list(specs)
        self.pool = VerifierPool(workers=workers, deadline_s=deadline_s, plugins=plugins)

    def close(self) -> None:
        self.pool.close()

    def score(self, rows: Sequence[Any], texts: Sequence[str]) -> Scores:
        from rewards.combine import row_fields
        from rewards.pool import ScoreItem

        per_obj: dict[str, list[float | None]] = {}
        reasons: dict[str, list[str]] = {}
        correct = [False] * len(texts)
        first_false: list[tuple[int, int] | None] = []
        done: dict[str, list] = {}  # objectives sharing (verifier, options) are scored once
        for spec in self.specs:
            name = objective_name(spec)
            key = json.dumps([spec.verifier, spec.options], sort_keys=True, default=str)
            if key not in done:
                items = [ScoreItem(row.verifier, text, row.gold, {**row_fields(row)[2], **spec.options})
                         if spec.verifier == "row" else ScoreItem(spec.verifier, text, row.gold, dict(spec.options))
                         for row, text in zip(rows, texts)]
                done[key] = self.pool.score_batch(items)
            results = done[key]
            if spec.signal == "answered":
                per_obj[name] = [None if r.score is None else float(r.reason not in NOT_ANSWERED) for r in results]
                reasons[name] = ["answered" if r.reason not in NOT_ANSWERED else r.reason for r in results]
                continue
            per_obj[name] = [r.score for r in results]
            reasons[name] = [r.reason for r in results]
            if spec.verifier == "process":
                first_false = [_span(r.details.get("first_false")) for r in results]
            if spec.verifier == "row":
                correct = [c or (r.score is not None and r.score >= 1.0) for c, r in zip(correct, results)]
        return Scores(combine(self.specs, per_obj, len(texts)), per_obj, reasons, correct, first_false)


def _span(ff) -> tuple[int, int] | None:
    return (int(ff["start"]), int(ff["end"])) if isinstance(ff, dict) and "start" in ff else None


def combine(specs: Sequence[RewardSpec], per_obj: dict[str, list[float | None]], n: int) -> list[float | None]:
    """Weighted sum over objectives that judged each completion; None if none did."""
    out: list[float | None] = []
    for i in range(n):
        total, judged = 0.0, False
        for spec in specs:
            s = per_obj[objective_name(spec)][i]
            if s is not None:
                total += spec.weight * s
                judged = True
        out.append(total if judged else None)
    return out
