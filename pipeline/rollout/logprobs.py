"""Per-token log-probs of given completions under a model, in one batched forward pass.

Inputs: a causal LM, prompt token ids and completion token ids (ragged lists, or already-padded
tensors with masks), the pad id, and the sampling temperature (logits are divided by it, as the
policy that sampled them saw them; 1.0 for the raw model).
Output: `(logprobs, mask)`, both (B, T) with T = the longest completion; logprobs[b, t] is
log p(completion[b][t] | prompt[b], completion[b][:t]); mask is 1.0 on real completion tokens.
`sequence_logprobs_and_entropy` also returns the per-token entropy (B, T) of the same distribution.

Layout: prompts left-padded to a common width P, completions right-padded to T, so one forward of
(B, P + T) tokens with explicit position ids covers everything and the positions that predict
completion tokens are the contiguous slice [P-1, P+T-1). Memory: the decoder's hidden states are
computed once; the vocabulary projection, log_softmax and gather run over that slice only, in
chunks of `chunk_size` positions, never materialising (B, P+T, V) logits. With grad enabled each
chunk is checkpointed, so backward keeps (B, chunk, V) logits alive at a time instead of
(B, T, V) (the lm_head matmul is recomputed: cheap next to the decoder). Used by the GRPO trainer
for old, reference and new log-probs (the same function for all three keeps them consistent).

    lp, mask = sequence_logprobs(model, prompt_ids, completion_ids, pad_id=tok.pad_token_id)
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint


def pack_batch(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
               device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Build (input_ids (B, P+T), attention_mask (B, P+T), completion_mask (B, T), P)."""
    if len(prompt_ids) != len(completion_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
    width = max(len(p) for p in prompt_ids)
    t_max = max(1, max(len(c) for c in completion_ids))
    b = len(prompt_ids)
    ids = torch.full((b, width + t_max), pad_id, dtype=torch.long)
    attn = torch.zeros((b, width + t_max), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        if not p:
            raise ValueError(f"prompt {i} is empty: at least one token is needed to predict the first completion token")
        ids[i, width - len(p) : width] = torch.tensor(p, dtype=torch.long)
        attn[i, width - len(p) : width + len(c)] = 1
        if c:
            ids[i, width : width + len(c)] = torch.tensor(c, dtype=torch.long)
    comp_mask = attn[:, width:].clone()
    return ids.to(device), attn.to(device), comp_mask.to(device), width


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
    return dec, head


def _chunk_stats(hidden: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 temperature: float, want_entropy: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (B, C, H), targets (B, C) -> (logprob (B, C), entropy (B, C) or zeros)."""
    logits = torch.nn.functional.linear(hidden, weight, bias).float()  # (B, C, V)
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)  # (B, C, V)
    tok_lp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, C)
    if want_entropy:
        ent = -(logp.exp() * logp).sum(-1)  # (B, C)
    else:
        ent = torch.zeros_like(tok_lp)
    return tok_lp, ent


def _compute(model, prompt_ids, completion_ids, pad_id, temperature, chunk_size, want_entropy):
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 for log-probs (got {temperature}); use 1.0 for greedy rollouts")
    device = next(model.parameters()).device
    ids, attn, comp_mask, width = pack_batch(prompt_ids, completion_ids, pad_id, device)
    t_max = comp_mask.shape[1]
    pos = (attn.cumsum(-1) - 1).clamp(min=0)  # (B, P+T)
    targets = ids[:, width:]  # (B, T)
    parts = decoder_and_head(model)
    if parts is None:  # generic path: let the model project only the last T+1 positions
        logits = model(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=False,
                       logits_to_keep=t_max + 1).logits[:, :-1].float()  # (B, T, V)
        logp = torch.log_softmax(logits / temperature, dim=-1)
        tok_lp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        ent = -(logp.exp() * logp).sum(-1) if want_entropy else torch.zeros_like(tok_lp)
        return tok_lp * comp_mask, ent * comp_mask, comp_mask.float()
    dec, head = parts
    hidden = dec(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=False).last_hidden_state
    hidden = hidden[:, width - 1 : width - 1 + t_max]  # (B, T, H): positions predicting completion tokens
    lps, ents = [], []
    use_ckpt = torch.is_grad_enabled() and hidden.requires_grad
    for s in range(0, t_max, chunk_size):
        args = (hidden[:, s : s + chunk_size], targets[:, s : s + chunk_size], head.weight,
                getattr(head, "bias", None), temperature, want_entropy)
        if use_ckpt:
            lp, ent = checkpoint(_chunk_stats, *args, use_reentrant=False)
        else:
            lp, ent = _chunk_stats(*args)
        lps.append(lp)
        ents.append(ent)
    mask = comp_mask.float()
    return torch.cat(lps, 1) * mask, torch.cat(ents, 1) * mask, mask


def sequence_logprobs(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], *, pad_id: int,
                      temperature: float = 1.0, chunk_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs (B, T) of `completion_ids` after `prompt_ids`, and the completion mask (B, T).

    Padded positions hold 0 in both tensors. Differentiable when grad is enabled (new log-probs);
    call under `torch.no_grad()` / `inference_mode()` for old and reference log-probs.
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
