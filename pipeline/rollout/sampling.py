"""Next-token sampling with vLLM's meaning of temperature / top-k / top-p, as pure functions.

Inputs: raw next-token logits (B, V) from the model, a `SamplingParams`, a `torch.Generator`.
Output: the chosen token ids (B,).

Order of operations matches vLLM's sampler: logits / temperature, then top-k, then top-p
(nucleus over the temperature-scaled distribution, always keeping the most likely token),
then a draw from the renormalised distribution. `temperature == 0` means greedy (argmax) and
ignores top-k / top-p. Draws come from the given generator only, so the same seed and the
same logits give the same tokens. The draw is by inverse CDF (one uniform per row, binary search
in the cumulative distribution): exact, and far cheaper than one exponential per vocabulary entry.

    from pipeline.rollout.sampling import sample_next
    tokens = sample_next(logits, params, generator)   # (B,)
"""

from __future__ import annotations

import torch

from pipeline.rollout.base import SamplingParams


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask (to -inf) tokens outside top-k and outside the top-p nucleus. logits: (B, V) -> (B, V)."""
    vocab = logits.shape[-1]
    use_k = 0 < top_k < vocab
    use_p = top_p < 1.0
    if not use_k and not use_p:
        return logits
    if use_k and not use_p:  # cheap path: no full sort
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        return logits.masked_fill(logits < kth, float("-inf"))
    sorted_logits, sorted_idx = logits.sort(dim=-1, descending=False)  # (B, V) ascending
    if use_k:
        kth = sorted_logits[:, vocab - top_k : vocab - top_k + 1]  # (B, 1)
        sorted_logits = sorted_logits.masked_fill(sorted_logits < kth, float("-inf"))
    probs_sum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    drop = probs_sum <= 1 - top_p
    drop[:, -1] = False  # always keep the most likely token
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, sorted_idx, sorted_logits)


def sample_next(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> torch.Tensor:
    """Choose next tokens. logits: (B, V) float; returns (B,) int64."""
    if params.temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits.float() / params.temperature  # (B, V)
    scaled = filter_logits(scaled, params.top_k, params.top_p)
    # Inverse-CDF draw: one uniform per row instead of torch.multinomial's one exponential per
    # vocabulary entry (which costs ~0.1-0.2 s per step at B=64, V=49k on one CPU core).
    cdf = scaled.softmax(dim=-1).cumsum(dim=-1)  # (B, V), nondecreasing, last ~= 1
    u = torch.rand((cdf.shape[0], 1), generator=generator, device=cdf.device) * cdf[:, -1:]  # (B, 1)
    idx = torch.searchsorted(cdf, u, right=True).squeeze(-1)  # (B,) first index with cdf > u
    # a token with probability 0 has cdf equal to its predecessor's and can never be the first cdf > u;
    # clamp guards the u == cdf[-1] float edge
    return idx.clamp_(max=cdf.shape[-1] - 1)


def sampled_logprobs(logits: torch.Tensor, tokens: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Log-probs of `tokens` under the distribution they were drawn from (vLLM's "processed_logprobs"):
    logits / temperature, top-k / top-p applied and renormalised; greedy (temperature 0) reports the raw
    distribution. logits: (B, V), tokens: (B,) -> (B,)."""
    scaled = logits.float()
    if params.temperature > 0:
        scaled = filter_logits(scaled / params.temperature, params.top_k, params.top_p)  # (B, V)
    return torch.log_softmax(scaled, -1).gather(-1, tokens[:, None]).squeeze(-1)


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A private generator: seeded from `seed`, or from torch's global RNG when seed is None
    (so `torch.manual_seed` still makes unseeded calls reproducible)."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
