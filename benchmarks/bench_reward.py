"""A deliberately dense reward for speed benchmarks (not for training): registered as "bench_dense".

Speed benchmarks need rewards that vary inside every group: our trainer skips the
forward/backward of zero-advantage rows (the gradient is exactly the same), TRL does not, so a
reward that is 0 for a whole group (what `math` gives a 135M model nearly always) would make us
do less work than TRL. Score: 1.0 when the gold number appears among the completion's numbers,
else min(0.9, 0.1 x how many numbers it wrote), which differs between almost any two samples.
Load it with reward plugins ["benchmarks.bench_reward"].
"""

from __future__ import annotations

import re
from typing import Any

from rewards.base import Reason, VerifyResult
from rewards.registry import register


@register("bench_dense")
def dense_reward(completion: str, gold: Any, **options: Any) -> VerifyResult:
    numbers = re.findall(r"-?\d+", completion)
    hit = str(gold).strip() in numbers
    score = 1.0 if hit else min(0.9, 0.1 * len(numbers))
    return VerifyResult(score=score, reason=Reason.OK if hit else Reason.WRONG,
                        extracted=numbers[-1] if numbers else None)
