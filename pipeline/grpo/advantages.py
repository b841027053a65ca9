"""Group-relative advantages: one scalar per completion, computed within each prompt's group.

Inputs are rewards shaped (P, G): P prompts, G completions each (the GRPO group).
Outputs are advantages of the same shape. Variants:

- ``grpo``   (DeepSeekMath / R1-Zero): A = (r - mean_g r) / (std_g r + eps). The std is the
  unbiased sample std (Bessel, as in TRL and the DeepSeekMath reference code).
- ``drgrpo`` (Dr. GRPO, Liu et al. 2025): A = r - mean_g r. No std division: dividing by the
  group std up-weights near-solved and near-failed prompts (a difficulty bias).
- ``rloo``   (REINFORCE leave-one-out, Ahmadian et al. 2024): A_i = r_i - mean_{j != i} r_j
  = G/(G-1) * (r_i - mean_g r).

A group whose rewards are all equal gets advantage 0 everywhere under every variant (and no
gradient): `zero_variance_mask` finds them so the trainer can log their share or refill them
(dynamic sampling, DAPO).

Example:
    >>> import torch
    >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), "drgrpo")
    tensor([[ 0.5000, -0.5000, -0.5000,  0.5000]])
"""

from __future__ import annotations

import torch

ADVANTAGE_KINDS = ("grpo", "drgrpo", "rloo")


def group_advantages(rewards: torch.Tensor, kind: str = "grpo", eps: float = 1e-4) -> torch.Tensor:
    """Advantages within each group.

    rewards: (P, G) float. Returns (P, G) float.
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (P, G), got shape {tuple(rewards.shape)}")
    P, G = rewards.shape
    mean = rewards.mean(dim=1, keepdim=True)  # (P, 1)
    # Equal rewards give exactly 0: float rounding of the mean (8 x 1.05 -> 1.0500001) would otherwise
    # leave ~1e-7 / eps = 1e-3 advantages that push on every token of a solved group.
    centred = torch.where(zero_variance_mask(rewards)[:, None], 0.0, rewards - mean)  # (P, G)
    if kind == "grpo":
        if G < 2:
            return torch.zeros_like(rewards)
        std = rewards.std(dim=1, keepdim=True, unbiased=True)  # (P, 1)
        return centred / (std + eps)  # (P, G)
    if kind == "drgrpo":
        return centred  # (P, G)
    if kind == "rloo":
        if G < 2:
            return torch.zeros_like(rewards)
        return centred * (G / (G - 1))  # (P, G): r_i - mean of the other G-1
    raise ValueError(f"unknown advantage kind {kind!r}; choose one of {ADVANTAGE_KINDS}")


def zero_variance_mask(rewards: torch.Tensor, tol: float = 1e-8) -> torch.Tensor:
    """True for groups whose rewards are all equal. rewards: (P, G) -> (P,) bool."""
    return (rewards.max(dim=1).values - rewards.min(dim=1).values) <= tol  # (P,)


def process_reward_adjustment(
    advantages: torch.Tensor,
    completion_mask: torch.Tensor,
    first_error_spans: list[tuple[int, int] | None],
    penalty: float = 0.5,
) -> torch.Tensor:
    """Token-level credit from a process (step-level) verifier: penalise the first false step.

    Following the min-form advice (a sparse, capped penalty on the *first* confidently false
    step), each completion's scalar advantage is broadcast over its tokens and, on the token
    span [start, end) of its first false step, lowered by `penalty`. Tokens outside that span
    keep the outcome advantage, so a wrong outcome never turns positive and filler steps earn
    nothing.

    advantages: (B,) float, one per completion. completion_mask: (B, T) {0,1}.
    first_error_spans: B entries, (start, end) token indices into the completion, or None.
    Returns (B, T) float per-token advantages (0 on padding).
    """
    B, T = completion_mask.shape
    if len(first_error_spans) != B:
        raise ValueError(f"need {B} spans, got {len(first_error_spans)}")
    per_token = advantages[:, None].expand(B, T).clone()  # (B, T)
    for b, span in enumerate(first_error_spans):
        if span is None:
            continue
        start, end = max(0, span[0]), min(T, span[1])
        if start < end:
            per_token[b, start:end] = per_token[b, start:end] - penalty
    return per_token * completion_mask.to(per_token.dtype)  # (B, T)
