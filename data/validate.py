"""Gold validation through the verifiers: a row whose gold its own verifier cannot parse is quarantined.

For each row (schema first: `data.schema.validate_row`), the gold is offered to the row's
verifier as a completion (`\\boxed{gold}`) against itself. The row is kept only when the
verifier judges it (score not None) and correct (score 1): `gold_unparsable` (score None),
`gold_not_self_verifying` (score < 1), `gold_timeout`, `unknown_verifier`,
`verifier_error:<Exception>`. Only verifiers listed in `self_check` are run (default "math";
the code verifier would execute reference solutions in the sandbox, so it is schema-checked
only). Checks are done once per distinct (verifier, gold), through
`rewards.pool.VerifierPool` (hard per-item deadline) when `workers > 0`, else in process.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable

from data.schema import Row, RowError, validate_row


@dataclasses.dataclass
class Quarantined:
    row_id: str
    source: str
    origin: str
    reason: str
    detail: str = ""
    record: Any = None  # the row (as a dict) or the raw line

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def gold_as_completion(gold: Any) -> str:
    return f"\\boxed{{{gold}}}"


def _verdicts(pairs: list[tuple[str, str]], workers: int, deadline_s: float,
              plugins: list[str] = ()) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(verifier, gold) -> (quarantine reason or None, detail)."""
    from rewards import registry
    from rewards.base import Reason

    out: dict[tuple[str, str], tuple[str | None, str]] = {}
    known = list(pairs)
    if workers > 0 and known:
        from rewards.pool import ScoreItem, VerifierPool

        with VerifierPool(workers=workers, deadline_s=deadline_s, plugins=list(plugins)) as pool:
            results = pool.score_batch([ScoreItem(v, gold_as_completion(g), g) for v, g in known])
    else:
        results = []
        for v, g in known:
            try:
                results.append(registry.get(v)(gold_as_completion(g), g))
            except Exception as e:  # noqa: BLE001 - a verifier crash quarantines the row, with its type
                results.append(None)
                out[(v, g)] = (f"verifier_error:{type(e).__name__}", str(e)[:300])
    for p, res in zip(known, results):
        if res is None:
            continue
        if res.reason == Reason.TIMEOUT:
            out[p] = ("gold_timeout", f"self-check exceeded {deadline_s}s")
        elif res.score is None:
            out[p] = ("gold_unparsable" if res.reason == Reason.GOLD_UNPARSABLE else f"gold_skipped:{res.reason}",
                      json.dumps(res.details, default=str)[:300])
        elif res.score < 1.0:
            out[p] = ("gold_not_self_verifying", f"{res.reason}; extracted={res.extracted!r}")
        else:
            out[p] = (None, "")
    return out


def validate_rows(rows: Iterable[Row], self_check: list[str], workers: int = 2,
                  deadline_s: float = 5.0, plugins: list[str] = ()) -> tuple[list[Row], list[Quarantined]]:
    """Split rows into (valid, quarantined); order of the valid rows is preserved. `plugins`: modules whose
    `@register` verifiers rows may name (imported here and in the pool's workers)."""
    from rewards import registry

    registry.load_plugins(list(plugins))

    known = set(registry.names())
    schema_ok, bad = [], []
    for r in rows:
        try:
            validate_row(r)
            if r.verifier not in known:
                raise RowError(f"unknown verifier {r.verifier!r}; known: {sorted(known)}")
        except RowError as e:
            reason = "unknown_verifier" if "unknown verifier" in str(e) else "schema"
            bad.append(Quarantined(str(r.id), r.source, str(r.metadata.get("origin", "")), reason, str(e),
                                   dataclasses.asdict(r)))
            continue
        schema_ok.append(r)
    checked = {(r.verifier, r.gold) for r in schema_ok if r.verifier in self_check and isinstance(r.gold, str)}
    verdicts = _verdicts(sorted(checked), workers, deadline_s, plugins) if checked else {}
    good = []
    for r in schema_ok:
        reason, detail = verdicts.get((r.verifier, r.gold), (None, "")) if isinstance(r.gold, str) else (None, "")
        if reason is None:
            good.append(r)
        else:
            bad.append(Quarantined(r.id, r.source, str(r.metadata.get("origin", "")), reason, detail,
                                   dataclasses.asdict(r)))
    return good, bad
