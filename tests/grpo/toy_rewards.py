"""A toy verifier for trainer tests on the random tiny model: rewards completions whose token count is even."""

from rewards.base import VerifyResult
from rewards.registry import register


@register("toy_parity")
def toy_parity(completion, gold=None, **options):
    score = 1.0 if len(completion) % 2 == 0 else 0.0
    return VerifyResult(score, "ok" if score else "wrong", extracted=str(len(completion)))
