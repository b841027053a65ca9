"""Verifiers: programs that score a completion against a gold answer (never a learned judge).

`rewards` never imports torch: verifiers run in worker processes next to training and
evaluation alike. See `rewards.registry` for how to add one.
"""

from rewards.base import VerifyResult, Reason  # noqa: F401
