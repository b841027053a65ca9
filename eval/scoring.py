"""Scoring for evaluation: the same verifiers as training, with hard per-item deadlines.

Inputs: (row, completion) pairs; each row names its verifier (`rewards.registry` key) and gold.
Outputs: one `rewards.base.VerifyResult` per pair, in order.

Checks run in `rewards.pool.VerifierPool` (pre-forked workers, deadline and memory cap per
item, shared cache), exactly as in training. `workers=0` scores in-process (debugging only:
no deadlines). `equivalent(a, b)` asks the math verifier whether two *extracted* answers are
the same (gold = a, completion = "\\boxed{b}"), memoised; maj@k clusters votes with it.

    with Scorer(workers=2) as s:
        s.score_rows([(row, "... \\\\boxed{4}")])
"""

from __future__ import annotations

from typing import Any, Sequence

from data.schema import Row
from rewards import registry
from rewards.base import VerifyResult


class Scorer:
    def __init__(self, workers: int = 2, deadline_s: float = 5.0, deadlines: dict[str, float] | None = None,
                 plugins: Sequence[str] = ()):
        self.workers = workers
        self._pool = None
        self._equiv: dict[tuple[str, str], bool] = {}
        registry.load_plugins(list(plugins))
        if workers > 0:
            from rewards.pool import VerifierPool

            self._pool = VerifierPool(workers=workers, deadline_s=deadline_s, deadlines=deadlines,
                                      plugins=list(plugins))

    def score(self, items: Sequence[tuple]) -> list[VerifyResult]:
        """items: [(verifier name, completion, gold[, options])] -> results in order."""
        full = [(it[0], it[1], it[2], dict(it[3]) if len(it) > 3 and it[3] else {}) for it in items]
        if self._pool is not None:
            from rewards.pool import ScoreItem

            return self._pool.score_batch([ScoreItem(v, c, g, o) for v, c, g, o in full])
        return [registry.get(v)(c, g, **o) for v, c, g, o in full]

    def score_rows(self, pairs: Sequence[tuple[Row, str]]) -> list[VerifyResult]:
        """Rows carry their own verifier options in metadata["verifier_options"] (as in training)."""
        from rewards.scorer import row_fields

        return self.score([(row.verifier, completion, row.gold, row_fields(row)[2]) for row, completion in pairs])

    def equivalent(self, a: str, b: str) -> bool:
        """Math-verified equivalence of two extracted answers (memoised; order as given)."""
        key = (a, b)
        if key not in self._equiv:
            res = self.score([("math", f"\\boxed{{{b}}}", a)])[0]
            self._equiv[key] = res.score is not None and res.score > 0.5
        return self._equiv[key]

    def prefetch_equivalences(self, answer_lists: Sequence[Sequence[str | None]]) -> None:
        """Score every distinct ordered answer pair per problem in one parallel batch (fills the memo)."""
        pairs = []
        for answers in answer_lists:
            distinct = list(dict.fromkeys(a for a in answers if a))
            pairs += [(x, y) for i, x in enumerate(distinct) for y in distinct[i + 1:] if (x, y) not in self._equiv]
        pairs = list(dict.fromkeys(pairs))
        if not pairs:
            return
        results = self.score([("math", f"\\boxed{{{b}}}", a) for a, b in pairs])
        for p, r in zip(pairs, results):
            self._equiv[p] = r.score is not None and r.score > 0.5

    def stats(self) -> dict[str, int]:
        return self._pool.stats() if self._pool is not None else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
