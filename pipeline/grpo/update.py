"""The update phase of a GRPO step: `mu` epochs of minibatch optimizer steps over the step's samples.

Per minibatch (the per-process share of `minibatch_size` rows, shuffled per epoch with a seed of (seed, step)):
`grad_accum` micro-batches, each a forward of the current policy's completion log-probs (temperature-scaled
as sampled), the bounded clipped policy loss (pipeline/grpo/loss.py) with optional KL to the reference and
truncated importance weights of the sampler's log-probs, and a backward; then exactly one optimizer step
through the backend (pipeline/grpo/backend.py). Old log-probs are computed once before the first update
(skipped when mu = 1 with one minibatch: the ratio is then exactly 1); reference log-probs only when
beta > 0. Rows whose loss is identically zero are skipped in single-process runs (their tokens still count
in the normalisers, so the gradient is the full batch's). best_of_n replaces the policy term by the
negative log-likelihood of each group's best completion.

    update = PolicyUpdate(cfg, backend, tokenizer, ref_model, mb_size, share_prefix)
    with update.attention():
        metrics = update(flat, advantages, groups, step)
"""

from __future__ import annotations

import collections
import contextlib
import statistics

import torch

from pipeline.config import ConfigError
from pipeline.grpo.batch import collate, completion_logprobs
from pipeline.grpo.lean_layers import lean_forward
from pipeline.grpo.lean_layers import unsupported as lean_unsupported
from pipeline.grpo.loss import aggregate, policy_loss, tis_weights
from pipeline.grpo.samples import Sample, best_of_n_mask, rollout_logprobs


def check_minibatch(cfg, world: int) -> int:
    """Per-rank minibatch size; a clear error when ranks or `grad_accum` do not divide the minibatch."""
    from pipeline.config import ConfigError

    if cfg.minibatch % world:
        raise ConfigError(f"minibatch_size: {cfg.minibatch} completions do not split evenly over {world} processes")
    if cfg.prompts_per_step % world:
        raise ConfigError(f"prompts_per_step: {cfg.prompts_per_step} prompts do not split evenly over {world} "
                          "processes (each rank samples whole groups)")
    per_rank = cfg.minibatch // world
    if per_rank % cfg.grad_accum:
        raise ConfigError(f"grad_accum: {cfg.grad_accum} does not divide the per-process minibatch ({per_rank} = "
                          f"minibatch_size {cfg.minibatch} / {world} processes)")
    return per_rank


class PolicyUpdate:
    def __init__(self, cfg, backend, tokenizer, ref_model, mb_size: int, share_prefix: bool):
        self.cfg, self.backend, self.tok, self.ref_model = cfg, backend, tokenizer, ref_model
        self.mb_size, self._share_prefix = mb_size, share_prefix
        self.entropy_coef = cfg.entropy_coef  # the trainer moves it each step under adaptive entropy control

    def __call__(self, flat: list[Sample], adv: torch.Tensor, groups: list[list[Sample]], step: int) -> dict[str, float]:
        """Train on one step's samples. adv: (B,) per completion or (B, T) per token. Returns the update's metrics."""
        cfg = self.cfg
        train_mask = torch.tensor([float(s.trainable) for s in flat])  # (B,)
        if cfg.mode == "best_of_n":
            train_mask = train_mask * best_of_n_mask(groups)  # (B,)
        batch = collate([s.prompt_ids for s in flat], [s.ids for s in flat], self.tok.pad_token_id)
        batch.completion_mask = batch.completion_mask * train_mask[:, None]  # (B, T)
        temps = torch.tensor([s.temp if s.temp > 0 else 1.0 for s in flat])  # (B,)
        B = len(flat)
        compute = self.backend.compute
        on_policy = cfg.mu == 1 and self.mb_size >= B
        old = None if on_policy or cfg.mode == "best_of_n" else self._logprobs_nograd(compute, batch, temps)
        ref = self._logprobs_nograd(self.ref_model, batch, temps) if self.ref_model is not None else None
        rollout = rollout_logprobs(flat, batch.completion_ids.shape) if cfg.tis_cap is not None else None
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + step)
        # Rows whose loss is identically zero (advantage 0, no KL term, no entropy bonus) need no forward/backward;
        # the normalisers still count their tokens, so the gradient is exactly the full batch's.
        active = train_mask > 0  # (B,)
        if cfg.mode == "grpo" and cfg.beta == 0 and cfg.process_penalty == 0 and self.entropy_coef == 0:
            active = active & ((adv != 0) if adv.dim() == 1 else (adv != 0).any(dim=1))
        if self.backend.world > 1:  # every rank runs the same micro-batches (the backward passes are collectives)
            active = torch.ones(B, dtype=torch.bool)
        acc = collections.defaultdict(list)
        compute.train()
        for _epoch in range(cfg.mu):
            perm = torch.randperm(B, generator=gen)  # (B,)
            for mb in perm.split(self.mb_size):
                self._optimizer_step(batch, mb, active, adv, temps, old, ref, rollout, acc)
        out = {k: statistics.fmean(v) for k, v in acc.items() if v}
        out["trained_frac"] = float(train_mask.mean())
        out["active_frac"] = float(active.float().mean())
        out["optimizer_steps"] = self.backend.optimizer_steps
        return out

    def _optimizer_step(self, batch, mb, active, adv, temps, old, ref, rollout, acc) -> None:
        """One optimizer step over minibatch `mb` (per-rank rows), in `grad_accum` micro-batches."""
        cfg, backend = self.cfg, self.backend
        mask_mb = batch.completion_mask[mb]  # (b, T)
        agg = "token_mean" if cfg.mode == "best_of_n" else cfg.loss_agg
        # the normaliser counts the whole minibatch over all ranks; ranks' gradients are averaged, hence * world
        local = float(mask_mb.sum()) if agg == "token_mean" else float(len(mb))
        den = max(1.0, backend.reduce_sum(local)) / backend.world
        rows = mb[active[mb]]  # (b',) rows with a non-zero loss
        micros = rows.split(len(mb) // cfg.grad_accum) if rows.numel() else ()
        for i, micro in enumerate(micros):
            sub = batch.select(micro)
            T = sub.completion_ids.shape[1]
            with self._precision():
                logp, ent = completion_logprobs(backend.compute, sub, temps[micro], with_entropy=True,
                                                share_prefix=self._share_prefix,
                                                entropy_grad=self.entropy_coef > 0)  # (b, T)
            m = sub.completion_mask.to(logp.device)  # (b, T)
            if cfg.mode == "best_of_n":
                loss = aggregate(-logp, m, "token_mean", denominator=den)
                acc["loss"].append(float(loss.detach()))
            else:
                old_mb = logp.detach() if old is None else old[micro][:, :T].to(logp.device)
                ref_mb = None if ref is None else ref[micro][:, :T].to(logp.device)
                adv_mb = adv[micro] if adv.dim() == 1 else adv[micro][:, :T]  # (b,) or (b, T)
                w = None
                if rollout is not None:  # truncated importance weights of the sampler/trainer mismatch
                    w = tis_weights(old_mb, rollout[micro][:, :T].to(logp.device), cfg.tis_cap)  # (b, T)
                    acc["tis/weight_mean"].append(float((w * m).sum() / m.sum().clamp(min=1.0)))
                    acc["tis/capped_frac"].append(float(((w >= cfg.tis_cap) * m).sum() / m.sum().clamp(min=1.0)))
                out = policy_loss(logp, old_mb, adv_mb.to(logp.device), m, cfg.eps_low, cfg.eps_high, cfg.beta,
                                  ref_mb, cfg.kl_estimator, cfg.loss_agg, cfg.max_new_tokens, den,
                                  clip_ratio_c=cfg.clip_ratio_c, is_weight=w, entropy=ent,
                                  entropy_coef=self.entropy_coef)
                loss = out.loss
                for k in ("pg_loss", "kl", "clip_low_frac", "clip_high_frac", "ratio_mean", "dual_clip_frac"):
                    acc[k].append(float(getattr(out, k)))
            acc["entropy"].append(float((ent.detach() * m).sum() / m.sum().clamp(min=1.0)))
            backend.backward(loss, last=i == len(micros) - 1)
        norm = backend.step(cfg.grad_clip)
        if norm is not None:
            acc["grad_norm"].append(norm)

    @contextlib.contextmanager
    def attention(self):
        """Switch the update's attention kernel (cfg.update_attention) and lean modules (cfg.lean_update) in,
        restoring the rollout's after."""
        model, impl = self.backend.policy(), self.cfg.update_attention
        device = next(model.parameters()).device.type
        why_not = lean_unsupported(model) or self.backend.lean_unsupported
        if impl == "auto":
            impl = ("lean" if self.cfg.lean_update and why_not is None else "eager") if device == "cpu" else "model"
        if impl == "lean" and why_not is not None:
            raise ConfigError(f"update_attention: lean is not available here: {why_not}")
        with contextlib.ExitStack() as stack:
            modules = self.cfg.lean_update and why_not is None
            if impl == "lean" or modules:
                stack.enter_context(lean_forward(model, attention=impl == "lean", modules=modules))
            current = getattr(getattr(model, "config", None), "_attn_implementation", None)
            switchable = current is not None and hasattr(model, "set_attn_implementation")
            if impl not in ("model", "lean", current) and switchable:
                model.set_attn_implementation(impl)
                stack.callback(model.set_attn_implementation, current)
            yield

    def _precision(self):
        """autocast(bfloat16) for forward passes when mixed_precision is bf16 (the loss is taken in float32)."""
        if self.cfg.mixed_precision != "bf16":  # (bf16_master runs a bf16 model: nothing to cast)
            return contextlib.nullcontext()
        device = next(self.backend.master().parameters()).device.type
        return torch.autocast(device_type=device, dtype=torch.bfloat16)

    @torch.no_grad()
    def _logprobs_nograd(self, model, batch, temps, chunk: int = 16) -> torch.Tensor:
        """(B, T) log-probs under `model`, computed in chunks, no grad."""
        B, T = batch.completion_ids.shape
        out = torch.zeros(B, T)
        for idx in torch.arange(B).split(chunk):
            sub = batch.select(idx)
            with self._precision():
                lp, _ = completion_logprobs(model, sub, temps[idx], share_prefix=self._share_prefix)  # (b, t)
            out[idx, : lp.shape[1]] = lp.float().cpu()
        return out
