"""The one reward path: score completions under weighted objectives, for training, evaluation and difficulty.

Inputs: rows (a `data.schema.Row`, or a dict with `verifier`, `gold` or `tests`, optional `options`; a Row's
own verifier options live in `metadata["verifier_options"]` and are applied wherever the row's verifier runs),
completion texts, optional token lengths, and the objectives (`RewardSpec`):

    verifier: row        the row's own verifier (row options, then the spec's, merged)   score in [0, 1]
              <registry> any registered verifier, e.g. format_r1                       score in [0, 1]
              process    rule-based step check, a min-form penalty: -1 on the first confidently false step,
                         else 0 (text with no checkable step earns nothing; a timeout finds no error)
              overlong   DAPO soft overlong punishment in [-1, 0] from the token length (options max_len,
                         cache_len)
    signal:   answered   1 when the verifier found a final answer at all (right or wrong), else 0
    weight:   the objective's weight (>= 0; process and overlong are penalties by construction)

Output: `Scores`: the weighted sum per completion, each objective's score, reason and raw `VerifyResult`,
outcome correctness and the process verifier's first-false span. A completion whose outcome (a `row`
objective with signal score) was skipped (gold unparsable, infrastructure failure) gets reward None and is
dropped, never a format-only reward; with no outcome objective, None only when every objective skipped it.
The process penalty must weigh less than the outcome, so it never lifts a wrong outcome above a right one.

Every check runs in `rewards.pool.VerifierPool` (pre-forked workers, per-item deadlines and memory cap);
`workers=0` scores in this process (debugging only: no deadlines).

    with Scorer([RewardSpec(), RewardSpec("format_r1", 0.1)], workers=2) as scorer:
        scores = scorer.score(rows, texts)
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any, Literal, Sequence

from rewards import registry
from rewards.base import Reason, VerifyResult
from rewards.format import overlong_penalty
from rewards.process import FALSE_STEP

ROW, PROCESS, OVERLONG = "row", "process", "overlong"
NOT_ANSWERED = ("no_answer", "parse_error", "hedge", "unevaluated")  # no format credit for restating the problem


@dataclasses.dataclass
class RewardSpec:
    verifier: str = ROW
    """"row" (each row's own verifier), a registry key (e.g. format_r1), "process" or "overlong"."""
    weight: float = 1.0
    """Weight of this objective in the combined reward (weighted sum); >= 0."""
    options: dict = dataclasses.field(default_factory=dict)
    """Keyword options for the verifier (merged over the row's own options for "row"); overlong: max_len,
    cache_len (tokens)."""
    signal: Literal["score", "answered"] = "score"
    """score: the verifier's score. answered: 1.0 when the verifier found a final answer at all (reason not
    no_answer / parse_error / hedge / unevaluated), right or wrong: a format credit for models that do not yet
    box answers."""
    name: str = ""
    """Name in metrics (default: "outcome" for row, else the verifier key; "<name>_answered" for answered)."""

    def validate(self) -> None:
        from pipeline.config import ConfigError

        if self.weight < 0:
            raise ConfigError(f"rewards: {self.verifier!r} weight must be >= 0 (penalties are negative by construction)")
        if self.verifier == OVERLONG:
            try:
                overlong_penalty(0, int(self.options.get("max_len", 0)), int(self.options.get("cache_len", -1)))
            except ValueError as e:
                raise ConfigError(f"rewards: overlong needs options max_len and cache_len: {e}") from None


def objective_name(spec: RewardSpec) -> str:
    base = spec.name or ("outcome" if spec.verifier == ROW else spec.verifier)
    return base + "_answered" if spec.signal == "answered" and not spec.name else base


def is_outcome(spec: RewardSpec) -> bool:
    return spec.verifier == ROW and spec.signal == "score"


def check_specs(specs: Sequence[RewardSpec], known: Sequence[str] = ()) -> None:
    """Config-time checks over the objectives together (names exist, the process penalty stays below the outcome)."""
    from pipeline.config import ConfigError

    if not specs:
        raise ConfigError("rewards: need at least one objective")
    for spec in specs:
        spec.validate()
        if spec.verifier not in (ROW, OVERLONG, *known) and spec.verifier not in registry.names():
            try:
                registry.get(spec.verifier)
            except KeyError as e:
                raise ConfigError(f"rewards: {e.args[0]}") from None
    # the outcome: the row's own verifier, or else the heaviest scored objective that is not a penalty
    rewarding = [s.weight for s in specs if s.signal == "score" and s.verifier not in (PROCESS, OVERLONG)]
    outcome = sum(s.weight for s in specs if is_outcome(s)) or max(rewarding, default=0.0)
    process = sum(s.weight for s in specs if s.verifier == PROCESS)
    if process and process >= outcome:
        raise ConfigError(f"rewards: the process penalty ({process}) must weigh less than the outcome ({outcome}), "
                          "or a right answer with a false step would score below a wrong one")


@dataclasses.dataclass
class Scores:
    reward: list[float | None]  # combined reward per completion (None: no verdict, dropped)
    per_objective: dict[str, list[float | None]]  # objective name -> unweighted score per completion
    reasons: dict[str, list[str]]  # objective name -> reason per completion
    correct: list[bool]  # an outcome objective gave score 1.0
    results: dict[str, list[VerifyResult | None]]  # objective name -> raw verifier result (None for overlong)
    first_false: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)  # process verifier's
    # character span of the first false step per completion (only when a "process" objective is configured)
    outcome: list[VerifyResult | None] = dataclasses.field(default_factory=list)  # the first outcome objective's
    # raw result per completion (empty without an outcome objective)

    def reason_counts(self) -> dict[str, int]:
        c: collections.Counter = collections.Counter()
        for name, rs in self.reasons.items():
            c.update(f"{name}/{r}" for r in rs)
        return dict(c)


def row_fields(row: Any) -> tuple[str, Any, dict]:
    """(verifier key, gold, the row's own verifier options) of a Row or a plain dict row."""
    if isinstance(row, dict):
        return row["verifier"], row.get("gold", row.get("tests")), dict(row.get("options") or {})
    return row.verifier, row.gold, dict((getattr(row, "metadata", None) or {}).get("verifier_options") or {})


class Scorer:
    def __init__(self, specs: Sequence[RewardSpec] = (RewardSpec(),), workers: int = 2, deadline_s: float = 5.0,
                 deadlines: dict[str, float] | None = None, plugins: Sequence[str] = ()):
        self.specs = list(specs)
        registry.load_plugins(list(plugins))
        self.pool = None
        if workers > 0:
            from rewards.pool import VerifierPool

            self.pool = VerifierPool(workers=workers, deadline_s=deadline_s, deadlines=deadlines, plugins=list(plugins))

    def verify(self, items: Sequence[tuple]) -> list[VerifyResult]:
        """Raw checks: [(verifier, completion, gold[, options])] -> results in order."""
        full = [(it[0], it[1], it[2], dict(it[3]) if len(it) > 3 and it[3] else {}) for it in items]
        if self.pool is not None:
            from rewards.pool import ScoreItem

            return self.pool.score_batch([ScoreItem(v, c, g, o) for v, c, g, o in full])
        out = []
        for v, c, g, o in full:
            try:
                out.append(registry.get(v)(c, g, **o))
            except Exception as e:  # noqa: BLE001 - in-process debugging mode: a crash skips the item, visibly
                out.append(VerifyResult(None, Reason.INTERNAL_ERROR, None, {"error": f"{type(e).__name__}: {e}"}))
        return out

    def score(self, rows: Sequence[Any], texts: Sequence[str], lengths: Sequence[int] | None = None) -> Scores:
        if len(rows) != len(texts) or (lengths is not None and len(lengths) != len(texts)):
            raise ValueError("rows, texts and lengths must have the same length")
        n = len(texts)
        per_obj: dict[str, list[float | None]] = {}
        reasons: dict[str, list[str]] = {}
        results: dict[str, list[VerifyResult | None]] = {}
        correct, first_false, outcome = [False] * n, [], []
        done: dict[str, list[VerifyResult]] = {}  # objectives sharing (verifier, options) are checked once
        for spec in self.specs:
            name = objective_name(spec)
            if spec.verifier == OVERLONG:
                if lengths is None:
                    raise ValueError("the 'overlong' objective needs each completion's token length")
                mx, cache = int(spec.options["max_len"]), int(spec.options["cache_len"])
                per_obj[name] = [overlong_penalty(int(k), mx, cache) for k in lengths]
                reasons[name] = ["overlong" if v < 0 else "ok" for v in per_obj[name]]
                results[name] = [None] * n
                continue
            key = json.dumps([spec.verifier, spec.options], sort_keys=True, default=str)
            if key not in done:
                done[key] = self.verify([_item(spec, row, text) for row, text in zip(rows, texts)])
            res = results[name] = done[key]
            if spec.signal == "answered":
                per_obj[name] = [None if r.score is None else float(r.reason not in NOT_ANSWERED) for r in res]
                reasons[name] = ["answered" if r.reason not in NOT_ANSWERED else r.reason for r in res]
                continue
            reasons[name] = [r.reason for r in res]
            if spec.verifier == PROCESS:  # min-form: only a confidently false step counts, as -1
                per_obj[name] = [-1.0 if r.reason == FALSE_STEP else 0.0 for r in res]
                first_false = [_span(r.details.get("first_false")) for r in res]
                continue
            per_obj[name] = [r.score for r in res]
            if is_outcome(spec):
                outcome = outcome or list(res)
                correct = [c or (r.score is not None and r.score >= 1.0) for c, r in zip(correct, res)]
        return Scores(self._combine(per_obj, n), per_obj, reasons, correct, results, first_false, outcome)

    def _combine(self, per_obj: dict[str, list[float | None]], n: int) -> list[float | None]:
        """Weighted sum over the objectives that judged each completion (see the module docstring for None)."""
        outcomes = [objective_name(s) for s in self.specs if is_outcome(s)]
        out: list[float | None] = []
        for i in range(n):
            if outcomes and any(per_obj[o][i] is None for o in outcomes):
                out.append(None)
                continue
            judged = [(s.weight, per_obj[objective_name(s)][i]) for s in self.specs]
            judged = [(w, v) for w, v in judged if v is not None]
            out.append(sum(w * v for w, v in judged) if judged else None)
        return out

    def stats(self) -> dict[str, int]:
        return self.pool.stats() if self.pool is not None else {}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _item(spec: RewardSpec, row: Any, text: str) -> tuple:
    verifier, gold, row_opts = row_fields(row)
    if spec.verifier == ROW:
        return (verifier, text, gold, {**row_opts, **spec.options})
    return (spec.verifier, text, gold, dict(spec.options))


def _span(ff) -> tuple[int, int] | None:
    return (int(ff["start"]), int(ff["end"])) if isinstance(ff, dict) and "start" in ff else None
