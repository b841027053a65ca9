"""Pack (prompt, completion) token lists into model inputs and compute completion log-probs.

Layout: prompts left-padded to P columns, completions right-padded to T columns, so every
completion starts at column P and the logits of the last T+1 positions cover it
(`logits_to_keep=T+1`: no vocabulary projection is spent on prompt tokens). Position ids are the
cumulative sum of the attention mask, matching how the rollout engine saw the left-padded prompts.

    batch = collate(prompt_ids, completion_ids, pad_id)
    logp, ent = completion_logprobs(model, batch, temperature)   # (B, T) each

Ragged-list wrappers for callers outside the trainer (engine tests, tools) add argument checks and masking:
`sequence_logprobs(model, prompt_ids, completion_ids, pad_id=...)` -> (logprobs, mask), both (B, T) with 0 on
padding; `sequence_logprobs_and_entropy` also returns the per-token entropy; `pack_batch` the model inputs.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.checkpoint import checkpoint
from transformers import DynamicCache

from pipeline.grpo.fused_logprob import linear_logprob
from pipeline.models import decoder_and_head


@dataclasses.dataclass
class Batch:
    input_ids: torch.Tensor  # (B, P + T) long
    attention_mask: torch.Tensor  # (B, P + T) long
    position_ids: torch.Tensor  # (B, P + T) long
    completion_ids: torch.Tensor  # (B, T) long
    completion_mask: torch.Tensor  # (B, T) float {0,1}
    prompt_len: int  # P

    def select(self, idx: torch.Tensor) -> "Batch":
        """Rows `idx`, with columns that are padding in every selected row trimmed away."""
        am = self.attention_mask[idx]  # (b, P + T)
        P = self.prompt_len
        first = int((am[:, :P].sum(dim=0) > 0).nonzero()[0]) if P > 0 else 0
        t_end = max(1, int(self.completion_mask[idx].sum(dim=1).max().item()))
        cols = slice(first, P + t_end)
        return Batch(self.input_ids[idx][:, cols], am[:, cols], self.position_ids[idx][:, cols],
                     self.completion_ids[idx][:, :t_end], self.completion_mask[idx][:, :t_end], P - first)


def collate(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int) -> Batch:
    B = len(prompt_ids)
    P = max(len(p) for p in prompt_ids)
    T = max(1, max(len(c) for c in completion_ids))
    ids = torch.full((B, P + T), pad_id, dtype=torch.long)  # (B, P + T)
    am = torch.zeros((B, P + T), dtype=torch.long)  # (B, P + T)
    cmask = torch.zeros((B, T), dtype=torch.float32)  # (B, T)
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        ids[i, P - len(p):P] = torch.tensor(p, dtype=torch.long)
        am[i, P - len(p):P] = 1
        if c:
            ids[i, P:P + len(c)] = torch.tensor(c, dtype=torch.long)
            am[i, P:P + len(c)] = 1
            cmask[i, :len(c)] = 1.0
    pos = (am.cumsum(dim=1) - 1).clamp(min=0)  # (B, P + T)
    return Batch(ids, am, pos, ids[:, P:], cmask, P)


def completion_logprobs(model, batch: Batch, temperature: torch.Tensor | float = 1.0,
                        with_entropy: bool = False, chunk_size: int = 32,
                        share_prefix: bool = False,
                        entropy_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs of the completion tokens under `model` (logits divided by `temperature`).

    temperature: scalar or (B,). Returns logp (B, T) and, if asked, entropy (B, T) (no grad unless
    `entropy_grad`, for an entropy bonus in the loss).
    The vocabulary projection runs over `chunk_size` completion positions at a time and, under
    autograd, is recomputed in backward (activation checkpointing), so the (B, T, V) logits and
    their log-softmax are never held in memory at once.
    share_prefix: rows with identical prompts (a GRPO group) run their prompt through the model once;
    its keys/values are expanded to the rows and the completions attend to them (gradients flow back
    through the shared prompt). Same log-probs, (G-1)/G of the prompt compute saved.
    """
    dev = next(model.parameters()).device
    T = batch.completion_ids.shape[1]
    temp = torch.as_tensor(temperature, dtype=torch.float32, device=dev)
    temp = temp[:, None, None] if temp.dim() == 1 else temp  # (B, 1, 1) or scalar
    targets = batch.completion_ids.to(dev)  # (B, T)
    inputs = dict(input_ids=batch.input_ids.to(dev), attention_mask=batch.attention_mask.to(dev),
                  position_ids=batch.position_ids.to(dev), use_cache=False)
    parts = decoder_and_head(model)
    if parts is None:  # wrapped or soft-capped models: the model's own projection of the last T+1 positions
        logits = model(**inputs, logits_to_keep=T + 1).logits[:, :-1, :]  # (B, T, V)
        lp, ent = _token_stats(logits, targets, None, None, temp, with_entropy, entropy_grad, project=False)
        return lp, (ent if with_entropy else None)
    decoder, head = parts
    shared = _shared_prefix_hidden(decoder, batch, dev) if share_prefix else None
    hidden = shared if shared is not None else decoder(**inputs).last_hidden_state[:, -(T + 1):-1]  # (B, T, H)
    bias = getattr(head, "bias", None)
    if bias is None:  # fused head: no (B, T, V) tensor kept, logits recomputed once in backward
        B, _, H = hidden.shape
        x = (hidden / temp).to(hidden.dtype) if temp.dim() else hidden / float(temp)  # (B, T, H): logits/t == (h/t) W^T
        lps, ents = [], []
        for s in range(0, T, chunk_size):
            xc, tc = x[:, s:s + chunk_size], targets[:, s:s + chunk_size]  # (B, C, H), (B, C)
            lp, ent = linear_logprob(xc.reshape(-1, H), head.weight, tc.reshape(-1), with_entropy, entropy_grad)
            lps.append(lp.view(B, -1))
            ents.append(ent.view(B, -1))
        return torch.cat(lps, 1), (torch.cat(ents, 1) if with_entropy else None)
    use_ckpt = torch.is_grad_enabled() and hidden.requires_grad
    lps, ents = [], []
    for s in range(0, T, chunk_size):
        args = (hidden[:, s:s + chunk_size], targets[:, s:s + chunk_size], head.weight, getattr(head, "bias", None),
                temp, with_entropy, entropy_grad)
        lp, ent = checkpoint(_token_stats, *args, use_reentrant=False) if use_ckpt else _token_stats(*args)
        lps.append(lp)
        ents.append(ent)
    return torch.cat(lps, 1), (torch.cat(ents, 1) if with_entropy else None)


def _shared_prefix_hidden(decoder, batch: Batch, dev) -> torch.Tensor | None:
    """Hidden states (B, T, H) predicting each completion token, running each distinct prompt once.

    None when every row has its own prompt (nothing to share)."""
    P, T = batch.prompt_len, batch.completion_ids.shape[1]
    if P == 0:
        return None
    key = torch.cat([batch.input_ids[:, :P], batch.attention_mask[:, :P]], dim=1)  # (B, 2P): ids and padding
    uniq, owner = torch.unique(key, dim=0, return_inverse=True)  # (U, 2P), (B,)
    if uniq.shape[0] == batch.input_ids.shape[0]:
        return None
    first = torch.zeros(uniq.shape[0], dtype=torch.long).scatter_(0, owner, torch.arange(len(owner)))  # (U,) any member
    cache = DynamicCache()
    h_prompt = decoder(input_ids=batch.input_ids[first, :P].to(dev), attention_mask=batch.attention_mask[first, :P].to(dev),
                       position_ids=batch.position_ids[first, :P].to(dev), past_key_values=cache,
                       use_cache=True).last_hidden_state  # (U, P, H)
    owner = owner.to(dev)
    h_first = h_prompt[:, -1][owner][:, None]  # (B, 1, H): predicts the first completion token
    if T == 1:
        return h_first
    rows = DynamicCache()
    for i, layer in enumerate(cache.layers):
        rows.update(layer.keys[owner], layer.values[owner], i)  # (B, heads, P, D) each
    h_rest = decoder(input_ids=batch.input_ids[:, P:P + T - 1].to(dev), attention_mask=batch.attention_mask[:, :P + T - 1].to(dev),
                     position_ids=batch.position_ids[:, P:P + T - 1].to(dev), past_key_values=rows,
                     use_cache=True).last_hidden_state  # (B, T - 1, H)
    return torch.cat([h_first, h_rest], dim=1)  # (B, T, H)


def _token_stats(x: torch.Tensor, targets: torch.Tensor, weight, bias, temp: torch.Tensor, with_entropy: bool,
                 entropy_grad: bool = False, project: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """x: hidden (B, C, H) (or logits (B, C, V) when not `project`), targets (B, C) -> logp (B, C), entropy (B, C)
    (with a gradient only when `entropy_grad`)."""
    logits = (torch.nn.functional.linear(x, weight, bias) if project else x).float() / temp  # (B, C, V)
    logsm = torch.log_softmax(logits, dim=-1)  # (B, C, V)
    logp = logsm.gather(-1, targets[..., None]).squeeze(-1)  # (B, C)
    if not with_entropy:
        return logp, torch.zeros_like(logp)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        ent = -(logsm.exp() * logsm).sum(dim=-1)  # (B, C)
    return logp, ent


# -- ragged-list wrappers -----------------------------------------------------------------------
def _check(prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> None:
    if len(prompt_ids) != len(completion_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
    for i, p in enumerate(prompt_ids):
        if not p:
            raise ValueError(f"prompt {i} is empty: at least one token is needed to predict the first completion token")


def pack_batch(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
               device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Build (input_ids (B, P+T), attention_mask (B, P+T), completion_mask (B, T), P)."""
    _check(prompt_ids, completion_ids)
    b = collate(prompt_ids, completion_ids, pad_id)
    return b.input_ids.to(device), b.attention_mask.to(device), b.completion_mask.to(device), b.prompt_len


def _compute(model, prompt_ids, completion_ids, pad_id, temperature, chunk_size, want_entropy):
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
