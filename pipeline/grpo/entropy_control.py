"""Adaptive entropy control (Skywork-OR1, He et al. 2025): the entropy bonus's coefficient follows the policy's
measured entropy towards a target instead of staying fixed.

After each step the coefficient moves by `step_size`: up while the step's entropy is below `target`, down
(never below 0) while above. A policy that collapses below the target gets a growing push back; one above it
sees the bonus decay to nothing, so the control cannot keep raising entropy once the target is reached. With
no target the coefficient is the fixed `entropy_coef` (verl's entropy_coeff).

    coef = next_entropy_coef(coef, metrics.get("entropy"), cfg.entropy_target, cfg.entropy_coef_step)
"""

from __future__ import annotations

import math


def next_entropy_coef(coef: float, entropy: float | None, target: float | None, step_size: float) -> float:
    """The coefficient for the next step, from this step's mean token entropy (None: not measured, kept)."""
    if target is None or entropy is None or math.isnan(entropy):
        return coef
    return max(0.0, coef + (step_size if entropy < target else -step_size))
