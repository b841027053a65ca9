"""Gold validation through the verifiers: a row whose gold its own verifier cannot judge is quarantined.

For each row (schema first: `data.schema.validate_row`), only verifiers listed in `self_check` are run
(default in data.curate: "math" and "code"):

- math-style rows: the gold is offered to the row's verifier as a completion (`\\boxed{gold}`) against
  itself. The row is kept only when the verifier judges it (score not None) and correct (score 1):
  `gold_unparsable` (score None), `gold_not_self_verifying` (score < 1), `gold_timeout`,
  `unknown_verifier`, `verifier_error:<Exception>`.
- code rows (verifier "code") carrying a reference solution in `metadata["reference"]` (a complete
  program text): the reference runs in the sandbox as a completion against the row's tests (`gold`),
  with the row's `metadata["verifier_options"]`. Score 1 keeps the row; a lower score quarantines it as
  `reference_failed:<verifier reason>` (`wrong_answer`, `timeout`, `compile_error`, `runtime_error`, ...),
  score None as `reference_unjudged:<reason>` (`sandbox_error`, `gold_unparsable`), a crash in process
  as `verifier_error:<Exception>`; the detail gives passed/total tests and the failure counts. A
  `reference` that is not a non-empty string is a `schema` error. Code rows without a reference are
  kept, schema-checked only, and counted (`stats["code_rows_without_reference"]`); with "code" left out
  of `self_check` no reference runs (`stats["code_rows_unchecked"]`).

Checks are done once per distinct (verifier, gold[, reference, options]) and all at once: through
`rewards.pool.VerifierPool` (hard per-item deadline; a verifier that declares its own `deadline_s`
gets it, code: 60 s around the sandbox's per-run `timeout_s`, the others `deadline_s`) when
`workers > 0`, else in process (code references as one `rewards.code.verify_code_batch`, spread over
the sandbox slots; no outer deadline).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable

from data.schema import Row, RowError, validate_row

CODE = "code"


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


Check = tuple[str, str, Any, dict]  # (verifier, completion, gold, options)


def _run_checks(checks: list[Check], workers: int, deadline_s: float, plugins: list[str] = ()) -> list:
    """One VerifyResult per check, in order; in process, the exception a verifier raised instead."""
    if not checks:
        return []
    if workers > 0:
        from rewards.pool import ScoreItem, VerifierPool

        with VerifierPool(workers=workers, deadline_s=deadline_s, plugins=list(plugins)) as pool:
            return pool.score_batch([ScoreItem(v, c, g, dict(o)) for v, c, g, o in checks])
    from rewards import registry

    out: list = [None] * len(checks)
    code_at = [i for i, (v, *_) in enumerate(checks) if v == CODE]
    if code_at and getattr(registry.get(CODE), "__module__", "") == "rewards.code":
        from rewards.code import verify_code_batch

        try:
            for i, res in zip(code_at, verify_code_batch([checks[i][1:] for i in code_at])):
                out[i] = res
        except Exception as e:  # noqa: BLE001 - the batch crashed: each of its rows says so
            for i in code_at:
                out[i] = e
    for i, (v, c, g, o) in enumerate(checks):
        if out[i] is None:
            try:
                out[i] = registry.get(v)(c, g, **o)
            except Exception as e:  # noqa: BLE001 - a verifier crash quarantines the row, with its type
                out[i] = e
    return out


def _gold_verdict(res, deadline_s: float) -> tuple[str | None, str]:
    """(quarantine reason or None, detail) of a math-style gold self-check."""
    from rewards.base import Reason

    if isinstance(res, Exception):
        return f"verifier_error:{type(res).__name__}", str(res)[:300]
    if res.reason == Reason.TIMEOUT:
        return "gold_timeout", f"self-check exceeded {deadline_s}s"
    if res.score is None:
        return ("gold_unparsable" if res.reason == Reason.GOLD_UNPARSABLE else f"gold_skipped:{res.reason}",
                json.dumps(res.details, default=str)[:300])
    if res.score < 1.0:
        return "gold_not_self_verifying", f"{res.reason}; extracted={res.extracted!r}"
    return None, ""


def _reference_verdict(res) -> tuple[str | None, str]:
    """(quarantine reason or None, detail) of a code row's reference run."""
    if isinstance(res, Exception):
        return f"verifier_error:{type(res).__name__}", str(res)[:300]
    if res.score is not None and res.score >= 1.0:
        return None, ""
    d = res.details or {}
    parts = [f"passed {d['passed']}/{d['total']} tests" if "total" in d else "no test result"]
    if d.get("failures"):
        parts.append("failures " + ", ".join(f"{k} x{n}" for k, n in sorted(d["failures"].items())))
    parts.append(f"first failure: {res.reason}")
    if d.get("error"):
        parts.append(str(d["error"])[:200])
    prefix = "reference_unjudged" if res.score is None else "reference_failed"
    return f"{prefix}:{res.reason}", "; ".join(parts)


def _key(x: Any) -> str:
    return x if isinstance(x, str) else json.dumps(x, sort_keys=True, default=str)


def _schema_check(r: Row, known: set[str]) -> None:
    validate_row(r)
    if r.verifier not in known:
        raise RowError(f"unknown verifier {r.verifier!r}; known: {sorted(known)}")
    if r.verifier == CODE and "reference" in r.metadata:
        ref = r.metadata["reference"]
        if not isinstance(ref, str) or not ref.strip():
            raise RowError(f"metadata.reference must be a non-empty program text, got {type(ref).__name__}")


def _quarantine(r: Row, reason: str, detail: str) -> Quarantined:
    return Quarantined(str(r.id), r.source, str(r.metadata.get("origin", "")), reason, detail, dataclasses.asdict(r))


def validate_rows(rows: Iterable[Row], self_check: list[str], workers: int = 2, deadline_s: float = 5.0,
                  plugins: list[str] = (), stats: dict[str, int] | None = None) -> tuple[list[Row], list[Quarantined]]:
    """Split rows into (valid, quarantined); order of the valid rows is preserved. `plugins`: modules whose
    `@register` verifiers rows may name (imported here and in the pool's workers). `stats`, when given, is
    filled with counts: code_rows, code_rows_without_reference, code_rows_unchecked (a reference present but
    "code" not self-checked), code_references_run (distinct reference checks), code_references_failed (rows)."""
    from rewards import registry

    registry.load_plugins(list(plugins))

    known = set(registry.names())
    schema_ok, bad = [], []
    for r in rows:
        try:
            _schema_check(r, known)
        except RowError as e:
            bad.append(_quarantine(r, "unknown_verifier" if "unknown verifier" in str(e) else "schema", str(e)))
            continue
        schema_ok.append(r)

    def key(r: Row) -> tuple | None:
        if r.verifier not in self_check:
            return None
        if r.verifier == CODE:
            if "reference" not in r.metadata:
                return None
            opts = dict(r.metadata.get("verifier_options") or {})
            return (CODE, _key(r.gold), r.metadata["reference"], _key(opts))
        return (r.verifier, r.gold) if isinstance(r.gold, str) else None

    keys = [key(r) for r in schema_ok]
    checks: dict[tuple, Check] = {}  # one check per distinct key; code keys start with "code", no other does
    for r, k in zip(schema_ok, keys):
        if k is not None and k not in checks:
            checks[k] = ((CODE, r.metadata["reference"], r.gold, dict(r.metadata.get("verifier_options") or {}))
                         if k[0] == CODE else (k[0], gold_as_completion(r.gold), r.gold, {}))
    results = _run_checks(list(checks.values()), workers, deadline_s, plugins)
    verdicts = {k: _reference_verdict(res) if k[0] == CODE else _gold_verdict(res, deadline_s)
                for k, res in zip(checks, results)}
    good, failed = [], set()
    for r, k in zip(schema_ok, keys):
        reason, detail = verdicts[k] if k is not None else (None, "")
        if reason is None:
            good.append(r)
        else:
            bad.append(_quarantine(r, reason, detail))
            failed.add(r.id)
    if stats is not None:
        code = [(r, k) for r, k in zip(schema_ok, keys) if r.verifier == CODE]
        stats.update(code_rows=len(code),
                     code_rows_without_reference=sum("reference" not in r.metadata for r, _ in code),
                     code_rows_unchecked=sum("reference" in r.metadata and k is None for r, k in code),
                     code_references_run=sum(k[0] == CODE for k in checks),
                     code_references_failed=sum(r.id in failed for r, _ in code))
    return good, bad
