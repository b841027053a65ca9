"""A toy verifier for trainer tests on the random tiny model: rewards completions whose token count is even."""

from rewards.base import VerifyResult
from rewards.registry import register


@register("toy_parity")
def toy_parity(completion, gold=None, **options):
    score = 1.0 if len(completion) % 2 == 0 else 0.0
    return VerifyResult(score, "ok" if score else "wrong", extracted=str(len(completion)))


@register("toy_never")
def toy_never(completion, gold=None, **options):
    """Refuses every completion (a verifier that a worked solution cannot satisfy either)."""
    return VerifyResult(0.0, "wrong", extracted=completion[-8:])
