"""Per-token log-probs of given completions under a model (teacher forcing), as ragged-list helpers.

Inputs: a causal LM, prompt token ids and completion token ids (ragged lists), the pad id, and the
sampling temperature (logits are divided by it, as the policy that sampled them saw them; 1.0 for
the raw model). Output: `(logprobs, mask)`, both (B, T) with T = the longest completion;
logprobs[b, t] = log p(completion[b][t] | prompt[b], completion[b][:t]); mask is 1.0 on real
completion tokens and both hold 0 elsewhere. `sequence_logprobs_and_entropy` also returns the
per-token entropy (B, T) of the same distribution.

There is one implementation of the computation: `pipeline.grpo.batch` (layout: prompts left-padded,
completions right-padded; the decoder runs once, the vocabulary projection only over completion
positions, chunked, through the fused head log-prob). These wrappers add the argument checks and
masking that callers outside the trainer (engine tests, tools) want. `decoder_and_head` lives here
because both the rollout engine and the trainer use it.

    lp, mask = sequence_logprobs(model, prompt_ids, completion_ids, pad_id=tok.pad_token_id)
"""

from __future__ import annotations

import torch


def _check(prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> None:
    if len(prompt_ids) != len(completion_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
    for i, p in enumerate(prompt_ids):
        if not p:
            raise ValueError(f"prompt {i} is empty: at least one token is needed to predict the first completion token")


def pack_batch(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
               device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Build (input_ids (B, P+T), attention_mask (B, P+T), completion_mask (B, T), P)."""
    from pipeline.grpo.batch import collate

    _check(prompt_ids, completion_ids)
    b = collate(prompt_ids, completion_ids, pad_id)
    return b.input_ids.to(device), b.attention_mask.to(device), b.completion_mask.to(device), b.prompt_len


def decoder_and_head(model):
    """The model's decoder (returns hidden states) and its output projection, or None to use full logits."""
    cfg = getattr(model, "config", None)
    if cfg is not None and getattr(cfg, "final_logit_softcapping", None):
        return None  # logits are post-processed inside forward: use the model's own path
    get_dec = getattr(model, "get_decoder", None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    dec = get_dec() if callable(get_dec) else None
    if dec is None or head is None or dec is model:
        return None
    if hasattr(head.weight, "ds_id"):  # ZeRO-3 partitioned: only the module's own forward gathers its weight
        return None
    return dec, head


def _compute(model, prompt_ids, completion_ids, pad_id, temperature, chunk_size, want_entropy):
    from pipeline.grpo.batch import collate, completion_logprobs

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 for log-probs (got {temperature}); use 1.0 for greedy rollouts")
    _check(prompt_ids, completion_ids)
    batch = collate(prompt_ids, completion_ids, pad_id)
    lp, ent = completion_logprobs(model, batch, temperature, with_entropy=want_entropy, chunk_size=chunk_size)
    mask = batch.completion_mask.to(lp.device)  # (B, T)
    ent = ent if ent is not None else torch.zeros_like(lp)
    return lp * mask, ent * mask, mask


def sequence_logprobs(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], *, pad_id: int,
                      temperature: float = 1.0, chunk_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs (B, T) of `completion_ids` after `prompt_ids`, and the completion mask (B, T).

    Padded positions hold 0 in both tensors. Differentiable when grad is enabled; call under
    `torch.no_grad()` / `inference_mode()` otherwise.
    """
    lp, _, mask = _compute(model, prompt_ids, completion_ids, pad_id, temperature, chunk_size, False)
    return lp, mask


def sequence_logprobs_and_entropy(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], *,
                                  pad_id: int, temperature: float = 1.0,
                                  chunk_size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """As `sequence_logprobs`, plus the per-token entropy (B, T) of the (temperature-scaled) distribution:
    returns (logprobs, mask, entropy)."""
    lp, ent, mask = _compute(model, prompt_ids, completion_ids, pad_id, temperature, chunk_size, True)
    return lp, mask, ent
