"""The reward contract: a verifier maps (completion, gold, options) to a typed `VerifyResult`.

`score` is a float in [0, 1] for a judged row, or None when the row must be *skipped*
(the gold answer cannot be parsed, or the infrastructure failed). A prediction that cannot
be parsed is judged: score 0 with reason `no_answer` or `parse_error`. A failure is never
hidden as a silent 0: the reason says what happened and training logs count the reasons.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol


class Reason:
    """Reason codes shared by all verifiers (a verifier may add its own, lower-case)."""

    OK = "ok"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    PARSE_ERROR = "parse_error"
    TIMEOUT = "timeout"
    GOLD_UNPARSABLE = "gold_unparsable"
    MEMORY = "memory"
    HEDGE = "hedge"  # several different final answers
    # code verifier
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    WRONG_ANSWER = "wrong_answer"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"
    INTERNAL_ERROR = "internal_error"  # verifier crashed: skip the row, log loudly


@dataclasses.dataclass
class VerifyResult:
    score: float | None  # None = skip this row (gold unparsable / infrastructure failure)
    reason: str  # one of Reason.* (or a verifier-specific code)
    extracted: str | None = None  # the answer the verifier read from the completion
    details: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. per-step verdicts

    @property
    def skipped(self) -> bool:
        return self.score is None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VerifyResult":
        return cls(d["score"], d["reason"], d.get("extracted"), d.get("details") or {})


class Verifier(Protocol):
    """A verifier is any callable with this signature, registered under a key."""

    def __call__(self, completion: str, gold: Any, **options: Any) -> VerifyResult: ...
