"""The trainer's per-completion record, and the pure functions a step computes over a step's samples.

A step holds P groups of G `Sample`s (one per completion of one prompt). The rollout phase fills the
sampling fields, the score phase the reward fields; advantages, the update and the logs only read them.

    groups = [[Sample(row, prompt_ids, c.token_ids, c.text, c.finish_reason, t, c.logprobs) ...], ...]
    fill_rewards(groups, scores, overlong_filter)
    metrics = rollout_metrics(flat, reasons, refills, rollout_seconds)
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any

import torch

EQUAL = 1e-8  # rewards this close count as equal (a zero-variance group)
LEN_PERCENTILES = (10, 50, 90)  # completion_len/p10, /p50, /p90 per step


@dataclasses.dataclass
class Sample:
    row: Any
    """The data row (problem, gold answer, verifier, options)."""
    prompt_ids: list[int]
    """Prompt token ids exactly as the engine fed them (and the trainer scores them)."""
    ids: list[int]
    """Completion token ids."""
    text: str
    """Completion text."""
    finish: str
    """"stop" (EOS or a stop string) or "length" (hit max_new_tokens)."""
    temp: float
    """Sampling temperature of this group member (the trainer scores with the same temperature)."""
    rollout_lp: list[float] | None = None
    """The sampler's log-probs of `ids` (for truncated importance sampling), when the engine returned them."""
    reward: float | None = None
    """Weighted reward over the objectives; None when no verdict could be had (skipped, never a silent 0)."""
    correct: bool = False
    """The outcome verifier's verdict."""
    objectives: dict[str, float | None] = dataclasses.field(default_factory=dict)
    """Each objective's score."""
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)
    """Each objective's reason (ok, wrong, parse_error, timeout, ...)."""
    first_false: tuple[int, int] | None = None
    """Character span of the first false step (process verifier), if any."""
    outcome: Any = None
    """The outcome verifier's raw `VerifyResult` (extracted answer, details), when an outcome objective is set."""
    reward_filled: float = 0.0
    """`reward`, or the group's mean judged reward when skipped (so advantages stay defined)."""
    trainable: bool = False
    """Enters the loss: judged, and not masked by the overlong filter."""
    guided: bool = False
    """A worked solution put in the group by `guidance`, not sampled (no sampler log-probs: TIS weight 1)."""


def fill_rewards(groups: list[list[Sample]], scores, overlong_filter: bool) -> None:
    """Copy a scorer's results (one per sample, groups flattened in order) onto the samples."""
    flat = [s for g in groups for s in g]
    for i, s in enumerate(flat):
        s.reward, s.correct = scores.reward[i], scores.correct[i]
        s.objectives = {k: v[i] for k, v in scores.per_objective.items()}
        s.reasons = {k: v[i] for k, v in scores.reasons.items()}
        s.first_false = scores.first_false[i] if scores.first_false else None
        s.outcome = scores.outcome[i] if scores.outcome else None
    for g in groups:
        fill_group(g, overlong_filter)


def fill_group(group: list[Sample], overlong_filter: bool) -> None:
    """`reward_filled` (a skipped member gets the group's mean judged reward) and `trainable` of each member."""
    judged = [s.reward for s in group if s.reward is not None]
    fill = statistics.fmean(judged) if judged else 0.0
    for s in group:
        s.reward_filled = s.reward if s.reward is not None else fill
        s.trainable = s.reward is not None and not (overlong_filter and s.finish == "length")


def is_flat(group: list[Sample]) -> bool:
    """All members got the same reward: the group carries no learning signal."""
    r = [s.reward_filled for s in group]
    return max(r) - min(r) <= EQUAL


def percentiles(values: list[float], qs: tuple[float, ...]) -> list[float]:
    """The q-th percentiles (q in [0, 100]) of `values` by linear interpolation between the closest ranks (numpy's
    default, `statistics.quantiles(method="inclusive")`): sorted x_0 <= ... <= x_(n-1), position p = q/100 * (n - 1),
    value x_floor(p) + (x_ceil(p) - x_floor(p)) * (p - floor(p)). E.g. [1, 2, 3, 4]: p10 = 1.3, p50 = 2.5."""
    xs = sorted(values)
    if not xs:
        raise ValueError("percentiles of no values")
    out = []
    for q in qs:
        pos = q / 100 * (len(xs) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        out.append(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))
    return out


def rollout_metrics(flat: list[Sample], reasons: dict, refills: int, rollout_seconds: float) -> dict[str, float]:
    """What the first round sampled: reward, accuracy, lengths (mean, min, max, p10/p50/p90 tokens), truncation,
    per-objective means, reasons."""
    lens = [len(s.ids) for s in flat]
    judged = [s.reward for s in flat if s.reward is not None]
    m = {"reward/mean": statistics.fmean(judged) if judged else 0.0,
         "reward/std": statistics.pstdev(judged) if len(judged) > 1 else 0.0,
         "accuracy": statistics.fmean(float(s.correct) for s in flat),
         "completion_len/mean": statistics.fmean(lens), "completion_len/max": max(lens),
         "completion_len/min": min(lens),
         **{f"completion_len/p{q}": v for q, v in zip(LEN_PERCENTILES, percentiles(lens, LEN_PERCENTILES))},
         "truncation_rate": statistics.fmean(float(s.finish == "length") for s in flat),
         "skipped_frac": 1.0 - len(judged) / len(flat), "refilled_groups": refills,
         "tokens_per_s": sum(lens) / max(1e-9, rollout_seconds)}
    for name in flat[0].objectives:
        vals = [s.objectives[name] for s in flat if s.objectives[name] is not None]
        if vals:
            m[f"reward/{name}/mean"] = statistics.fmean(vals)
            m[f"reward/{name}/std"] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
    m.update({f"reason/{k}": v for k, v in reasons.items()})
    m.update(verifier_metrics(flat))
    return m


def verifier_metrics(flat: list[Sample]) -> dict[str, float]:
    """Accuracy per row verifier (`accuracy/math`, `accuracy/code`: mixed runs show each), per source level where
    rows carry `metadata["level"]` (`accuracy/level=2`: the curriculum's hard rows, seen apart from the easy ones),
    and for code rows the fraction of completions showing each failure / reward-hack signal (`code/<signal>`,
    rewards.code_signals)."""
    from rewards.code_signals import SIGNALS, hack_signals

    by_verifier: dict[str, list[Sample]] = {}
    for s in flat:
        by_verifier.setdefault(s.row.verifier, []).append(s)
    m = {f"accuracy/{v}": statistics.fmean(float(s.correct) for s in ss) for v, ss in sorted(by_verifier.items())}
    by_level: dict[str, list[Sample]] = {}
    for s in flat:
        level = (getattr(s.row, "metadata", None) or {}).get("level")
        if level is not None:
            by_level.setdefault(str(level), []).append(s)
    m.update({f"accuracy/level={k}": statistics.fmean(float(s.correct) for s in ss) for k, ss in sorted(by_level.items())})
    code = [s for s in by_verifier.get("code", []) if s.outcome is not None and s.outcome.score is not None]
    if code:
        flags = [hack_signals(s.outcome, s.row.gold) for s in code]
        m.update({f"code/{k}": statistics.fmean(float(f[k]) for f in flags) for k in SIGNALS})
        m["code/tests_passed_frac"] = statistics.fmean(
            s.outcome.details.get("passed", 0) / max(1, s.outcome.details.get("total", 1)) for s in code)
    return m


def first_false_token_spans(flat: list[Sample], tokenizer) -> list[tuple[int, int] | None]:
    """The token span [first, last + 1) covering each sample's first false step (a character span), or None."""
    spans = []
    for s in flat:
        if s.first_false is None:
            spans.append(None)
            continue
        ends = [len(tokenizer.decode(s.ids[: k + 1], skip_special_tokens=True)) for k in range(len(s.ids))]
        first = next((k for k, e in enumerate(ends) if e > s.first_false[0]), len(ends))
        last = next((k for k, e in enumerate(ends) if e >= s.first_false[1]), len(ends) - 1)
        spans.append((first, last + 1))
    return spans


def rollout_logprobs(flat: list[Sample], shape: tuple[int, int]) -> torch.Tensor:
    """The sampler's log-probs of each completion token, (B, T) right-padded (NaN for a guided demonstration); a
    clear error if an engine sent none."""
    out = torch.zeros(shape)  # (B, T)
    for b, s in enumerate(flat):
        if s.guided:  # not sampled: NaN, which tis_weights turns into weight 1
            out[b, : len(s.ids)] = float("nan")
            continue
        if s.rollout_lp is None:
            raise RuntimeError("tis_cap is set but the rollout engine returned no log-probs; set tis_cap: null")
        out[b, : len(s.rollout_lp)] = torch.tensor(s.rollout_lp, dtype=torch.float32)
    return out


def best_of_n_mask(groups: list[list[Sample]]) -> torch.Tensor:
    """(P*G,) 1 on each group's best completion when its reward is > 0 (best-of-N distillation), else 0."""
    best = torch.zeros(sum(len(g) for g in groups))
    offset = 0
    for g in groups:
        j = max(range(len(g)), key=lambda k: g[k].reward_filled)
        if g[j].reward is not None and g[j].reward > 0:
            best[offset + j] = 1.0
        offset += len(g)
    return best
