"""GRPO policy loss as pure functions over per-token tensors.

Notation: B completions in a minibatch, T completion tokens (right-padded), `mask` (B, T) is 1
on real completion tokens. All log-probs are of the sampled tokens.

- Policy term (PPO clip with asymmetric "clip-higher", DAPO):
      ratio = exp(logp - old_logp)
      loss_t = max(-A * ratio, -A * clip(ratio, 1 - eps_low, 1 + eps_high))
  With one update per batch (mu = 1, one minibatch) old_logp = logp.detach(), ratio = 1 and
  the gradient is the plain policy gradient.
- KL penalty (added per token, coefficient beta) against a frozen reference policy, with the
  three Schulman estimators of KL(pi || ref), where log_r = ref_logp - logp:
      k1 = -log_r          k2 = 0.5 * log_r**2          k3 = exp(log_r) - log_r - 1
  (k3 is GRPO's / DeepSeekMath's choice; unbiased and always >= 0.)
- Aggregation over tokens:
      token_mean            sum(loss * mask) / sum(mask)              (DAPO; TRL "dapo")
      seq_mean_token_mean   mean_b [ sum_t loss * mask / sum_t mask ]  (original GRPO)
      constant              sum(loss * mask) / (B * max_new_tokens)    (Dr. GRPO; no length bias)
  `denominator` overrides the normaliser so gradient accumulation over minibatches can use the
  whole batch's token / sequence count and match one big batch exactly.
- Entropy of the policy per token (a metric; optional bonus).

Example:
    >>> import torch
    >>> lp = torch.zeros(2, 3); mask = torch.ones(2, 3); adv = torch.tensor([1.0, -1.0])
    >>> out = policy_loss(lp, lp, adv, mask, eps_low=0.2, eps_high=0.28)
    >>> float(out.loss)
    0.0
"""

from __future__ import annotations

import dataclasses

import torch

KL_ESTIMATORS = ("k1", "k2", "k3")
LOSS_AGGREGATIONS = ("token_mean", "seq_mean_token_mean", "constant")


@dataclasses.dataclass
class LossOutput:
    loss: torch.Tensor  # () scalar to backpropagate
    pg_loss: torch.Tensor  # () aggregated policy term (detached)
    kl: torch.Tensor  # () token-mean KL estimate (detached; 0 when beta == 0 and no ref)
    clip_low_frac: torch.Tensor  # () share of tokens clipped at 1 - eps_low (with A < 0)
    clip_high_frac: torch.Tensor  # () share of tokens clipped at 1 + eps_high (with A > 0)
    ratio_mean: torch.Tensor  # () token-mean importance ratio


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref). logp, ref_logp: (B, T). Returns (B, T)."""
    log_r = ref_logp - logp  # (B, T)
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        return torch.exp(log_r) - log_r - 1.0
    raise ValueError(f"unknown KL estimator {estimator!r}; choose one of {KL_ESTIMATORS}")


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: str, max_new_tokens: int | None = None,
              denominator: float | None = None) -> torch.Tensor:
    """Reduce a (B, T) per-token loss to a scalar. mask: (B, T) {0,1}. Returns ()."""
    m = mask.to(per_token.dtype)  # (B, T)
    masked = per_token * m  # (B, T)
    if mode == "token_mean":
        den = denominator if denominator is not None else m.sum().clamp(min=1.0)
        return masked.sum() / den
    if mode == "seq_mean_token_mean":
        per_seq = masked.sum(dim=1) / m.sum(dim=1).clamp(min=1.0)  # (B,)
        den = denominator if denominator is not None else per_seq.shape[0]
        return per_seq.sum() / den
    if mode == "constant":
        if not max_new_tokens:
            raise ValueError("loss_agg 'constant' needs max_new_tokens (Dr. GRPO's normaliser)")
        den = denominator if denominator is not None else per_token.shape[0]
        return masked.sum() / (den * max_new_tokens)
    raise ValueError(f"unknown loss aggregation {mode!r}; choose one of {LOSS_AGGREGATIONS}")


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
    kl_estimator: str = "k3",
    loss_agg: str = "token_mean",
    max_new_tokens: int | None = None,
    denominator: float | None = None,
) -> LossOutput:
    """Clipped policy-gradient loss with optional KL penalty.

    logp: (B, T) current log-probs (with grad). old_logp: (B, T) behaviour log-probs (no grad).
    advantages: (B,) per completion or (B, T) per token. mask: (B, T) {0,1}.
    ref_logp: (B, T) reference log-probs, required when beta > 0.
    """
    adv = advantages[:, None] if advantages.dim() == 1 else advantages  # (B, 1) or (B, T)
    ratio = torch.exp(logp - old_logp)  # (B, T)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)  # (B, T)
    per_token = torch.maximum(-adv * ratio, -adv * clipped)  # (B, T)
    pg = aggregate(per_token, mask, loss_agg, max_new_tokens, denominator)  # ()
    total = pg
    m = mask.to(logp.dtype)  # (B, T)
    n_tok = m.sum().clamp(min=1.0)
    kl_mean = torch.zeros((), dtype=logp.dtype)
    if beta > 0 or ref_logp is not None:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp (the reference model's log-probs)")
        kl = kl_estimate(logp, ref_logp, kl_estimator)  # (B, T)
        if beta > 0:
            total = total + beta * aggregate(kl, mask, loss_agg, max_new_tokens, denominator)
        kl_mean = ((kl * m).sum() / n_tok).detach()
    with torch.no_grad():
        adv_full = adv.expand_as(ratio)  # (B, T)
        low = ((ratio < 1.0 - eps_low) & (adv_full < 0)).to(m.dtype)  # (B, T)
        high = ((ratio > 1.0 + eps_high) & (adv_full > 0)).to(m.dtype)  # (B, T)
        clip_low = (low * m).sum() / n_tok
        clip_high = (high * m).sum() / n_tok
        ratio_mean = (ratio * m).sum() / n_tok
    return LossOutput(total, pg.detach(), kl_mean, clip_low, clip_high, ratio_mean)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-token entropy of softmax(logits). logits: (B, T, V). Returns (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return -(logp.exp() * logp).sum(dim=-1)  # (B, T)


def sft_loss(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood, token mean (best-of-N distillation). logp, mask: (B, T). Returns ()."""
    m = mask.to(logp.dtype)  # (B, T)
    return -(logp * m).sum() / m.sum().clamp(min=1.0)
