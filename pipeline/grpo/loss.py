"""GRPO policy loss as pure functions over per-token tensors.

Notation: B completions in a minibatch, T completion tokens (right-padded), `mask` (B, T) is 1
on real completion tokens. All log-probs are of the sampled tokens.

- Policy term (PPO clip with asymmetric "clip-higher", DAPO), bounded as verl bounds it:
      ratio = exp(clamp(logp - old_logp, -20, 20))
      loss_t = max(-A * ratio, -A * clip(ratio, 1 - eps_low, 1 + eps_high))
      loss_t = min(loss_t, -A * clip_ratio_c)   where A < 0   (dual-clip, Ye et al. 2020; verl's clip_ratio_c)
  Without the dual clip a token whose ratio has run away (e^5 = 148 with A = -1) contributes 148 to the
  loss; with clip_ratio_c = 3 it contributes 3 and no gradient. With one update per batch (mu = 1, one
  minibatch) old_logp = logp.detach(), ratio = 1 and the gradient is the plain policy gradient.
- Sampler/trainer mismatch (truncated importance sampling, TIS; TRL's vllm_importance_sampling_cap,
  verl's rollout_is): the engine that sampled (vLLM, a bf16 copy) is not exactly the trainer's policy, so
  each token's policy term is weighted by w = min(exp(old_logp - rollout_logp), tis_cap), no gradient.
- KL penalty (added per token, coefficient beta) against a frozen reference policy, with the
  three Schulman estimators of KL(pi || ref), where log_r = ref_logp - logp:
      k1 = -log_r          k2 = 0.5 * log_r**2          k3 = exp(log_r) - log_r - 1
  (k3 is GRPO's / DeepSeekMath's choice; unbiased and always >= 0. As in verl, log_r is clamped to
  [-20, 20] and k3 to [-10, 10], so one runaway token cannot overflow exp.)
- Aggregation over tokens:
      token_mean            sum(loss * mask) / sum(mask)              (DAPO; TRL "dapo")
      seq_mean_token_mean   mean_b [ sum_t loss * mask / sum_t mask ]  (original GRPO)
      constant              sum(loss * mask) / (B * max_new_tokens)    (Dr. GRPO; no length bias)
  `denominator` overrides the normaliser so gradient accumulation over minibatches can use the
  whole batch's token / sequence count and match one big batch exactly.
- Entropy bonus (verl's entropy_coeff): loss -= entropy_coef * aggregate(entropy) with the per-token entropy
  of the policy (carrying its gradient); with entropy_coef = 0 entropy is only a metric.

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
LOG_RATIO_BOUND = 20.0  # |log ratio| clamp before exp (verl)
K3_BOUND = 10.0  # k3 clamp (verl's low_var_kl)
LOSS_AGGREGATIONS = ("token_mean", "seq_mean_token_mean", "constant")


@dataclasses.dataclass
class LossOutput:
    loss: torch.Tensor  # () scalar to backpropagate
    pg_loss: torch.Tensor  # () aggregated policy term (detached)
    kl: torch.Tensor  # () token-mean KL estimate (detached; 0 when beta == 0 and no ref)
    clip_low_frac: torch.Tensor  # () share of tokens clipped at 1 - eps_low (with A < 0)
    clip_high_frac: torch.Tensor  # () share of tokens clipped at 1 + eps_high (with A > 0)
    ratio_mean: torch.Tensor  # () token-mean importance ratio
    dual_clip_frac: torch.Tensor  # () share of tokens held at -A * clip_ratio_c (A < 0, ratio > clip_ratio_c)


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref). logp, ref_logp: (B, T). Returns (B, T)."""
    log_r = ref_logp - logp  # (B, T)
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        log_r = log_r.clamp(-LOG_RATIO_BOUND, LOG_RATIO_BOUND)
        return (torch.exp(log_r) - log_r - 1.0).clamp(-K3_BOUND, K3_BOUND)
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
    clip_ratio_c: float | None = 3.0,
    is_weight: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
) -> LossOutput:
    """Clipped policy-gradient loss with optional KL penalty.

    logp: (B, T) current log-probs (with grad). old_logp: (B, T) behaviour log-probs (no grad).
    advantages: (B,) per completion or (B, T) per token. mask: (B, T) {0,1}.
    ref_logp: (B, T) reference log-probs, required when beta > 0.
    clip_ratio_c: dual-clip bound (> 1) for negative advantages; None turns it off.
    is_weight: (B, T) truncated importance weights of the sampler/trainer mismatch (`tis_weights`), or None.
    entropy: (B, T) per-token policy entropy (with grad), required when entropy_coef > 0.
    """
    adv = advantages[:, None] if advantages.dim() == 1 else advantages  # (B, 1) or (B, T)
    ratio = torch.exp((logp - old_logp).clamp(-LOG_RATIO_BOUND, LOG_RATIO_BOUND))  # (B, T)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)  # (B, T)
    per_token = torch.maximum(-adv * ratio, -adv * clipped)  # (B, T)
    adv_full = adv.expand_as(ratio)  # (B, T)
    dual = torch.zeros_like(ratio, dtype=torch.bool)  # (B, T)
    if clip_ratio_c is not None:
        dual = (adv_full < 0) & (per_token > -adv_full * clip_ratio_c)  # (B, T)
        per_token = torch.where(dual, -adv_full * clip_ratio_c, per_token)  # (B, T) constant: no gradient
    if is_weight is not None:
        per_token = per_token * is_weight.detach()  # (B, T)
    pg = aggregate(per_token, mask, loss_agg, max_new_tokens, denominator)  # ()
    total = pg
    if entropy_coef > 0:
        if entropy is None:
            raise ValueError("entropy_coef > 0 needs the per-token entropy")
        total = total - entropy_coef * aggregate(entropy, mask, loss_agg, max_new_tokens, denominator)
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
        low = ((ratio < 1.0 - eps_low) & (adv_full < 0)).to(m.dtype)  # (B, T)
        high = ((ratio > 1.0 + eps_high) & (adv_full > 0)).to(m.dtype)  # (B, T)
        clip_low = (low * m).sum() / n_tok
        clip_high = (high * m).sum() / n_tok
        ratio_mean = (ratio * m).sum() / n_tok
        dual_frac = (dual.to(m.dtype) * m).sum() / n_tok
    return LossOutput(total, pg.detach(), kl_mean, clip_low, clip_high, ratio_mean, dual_frac)


def tis_weights(old_logp: torch.Tensor, rollout_logp: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance weights min(pi_trainer / pi_sampler, cap) per token. (B, T) each -> (B, T), no grad.
    A NaN sampler log-prob (a token nobody sampled: a guided demonstration) gets weight 1.

    >>> tis_weights(torch.tensor([[0.0, 0.0, -1.0]]), torch.tensor([[0.0, -5.0, float("nan")]]), cap=2.0)
    tensor([[1., 2., 1.]])
    """
    log_w = torch.nan_to_num((old_logp - rollout_logp).detach(), nan=0.0)  # (B, T)
    log_w = log_w.clamp(-LOG_RATIO_BOUND, LOG_RATIO_BOUND)
    return torch.exp(log_w).clamp(max=cap)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-token entropy of softmax(logits). logits: (B, T, V). Returns (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return -(logp.exp() * logp).sum(dim=-1)  # (B, T)


def sft_loss(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood, token mean (best-of-N distillation). logp, mask: (B, T). Returns ()."""
    m = mask.to(logp.dtype)  # (B, T)
    return -(logp * m).sum() / m.sum().clamp(min=1.0)
