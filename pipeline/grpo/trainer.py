"""The GRPO loop, as named and timed phases.

One step (prompts per step x group size = completions per step):
  1. `prompts`    take `prompts_per_step` rows from the curriculum (seeded, resumable order);
  2. `rollout`    sample `group_size` completions per prompt with the rollout engine (the step's
                  temperatures: pipeline/grpo/temperature.py; top-p);
  3. `score`      score every completion with the registry's verifiers in worker processes and
                  combine the weighted objectives; with dynamic sampling, groups whose rewards are
                  all equal are replaced by fresh prompts (up to `max_refill_rounds` extra rounds); with
                  `guidance`, a group nobody solved gets the row's worked solution as its last member
                  (pipeline/grpo/guidance.py) before that check;
  4. `advantage`  group advantages (grpo | drgrpo | rloo), optional per-token process-reward credit;
  5. `update`     `mu` epochs over shuffled minibatches, one optimizer step each (pipeline/grpo/update.py),
                  through the backend that hides one process / bf16 master weights / DeepSpeed
                  (pipeline/grpo/backend.py); `sync` then pushes the new weights to the rollout engine;
  6. `log`        metrics to JSONL/TensorBoard, sample completions, atomic checkpoint every N steps.

Variant choices (all from the config): PPO clip with asymmetric clip-higher (eps_low, eps_high);
token-mean / sequence-mean-token-mean / Dr. GRPO constant aggregation; KL k1/k2/k3 with beta; an entropy
bonus (entropy_coef; adaptive towards entropy_target); overlong filtering masks truncated completions out of
the loss; best_of_n mode replaces the policy gradient by SFT on the best completion of each group. Sampling
seeds are a pure function of (seed, step, round), so a resumed run repeats what the uninterrupted run does.

    trainer = GRPOTrainer(cfg, model, tokenizer, curriculum, run_dir)
    trainer.train()
"""

from __future__ import annotations

import collections
import contextlib
import math
import random
import time
from pathlib import Path
from typing import Any

import torch

from pipeline.allocator import release_free_memory, tune_allocator
from pipeline.grpo import checkpoint as ckpt
from pipeline.grpo.advantages import group_advantages, process_reward_adjustment, zero_variance_mask
from pipeline.grpo.backend import make_backend
from pipeline.grpo.config import TrainConfig
from pipeline.grpo.entropy_control import next_entropy_coef
from pipeline.grpo.metrics import MetricsLogger, memory_mib
from pipeline.grpo.precision import bf16_copy
from pipeline.grpo.guidance import demonstration, needs_guidance
from pipeline.grpo.samples import (Sample, fill_group, fill_rewards, first_false_token_spans, is_flat,
                                   rollout_metrics)
from pipeline.grpo.temperature import base_temperature, member_temperatures
from pipeline.grpo.update import PolicyUpdate, check_minibatch
from pipeline.prompts import render_prompt, template_for
from pipeline.rollout.base import SamplingParams, make_engine


class Timer:
    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)

    @contextlib.contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0


def make_scheduler(optimizer, cfg: TrainConfig, total_updates: int):
    def factor(u: int) -> float:
        if cfg.warmup_steps and u < cfg.warmup_steps:
            return (u + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        frac = min(1.0, (u - cfg.warmup_steps) / max(1, total_updates - cfg.warmup_steps))
        return 1.0 - frac if cfg.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class GRPOTrainer:
    def __init__(self, cfg: TrainConfig, model, tokenizer, curriculum, run_dir: str | Path, scorer=None,
                 ref_model=None, accelerator=None):
        tune_allocator()
        self.cfg, self.tok, self.curriculum = cfg, tokenizer, curriculum
        self.run_dir = Path(run_dir)
        world = accelerator.num_processes if accelerator is not None else 1
        mb_size = check_minibatch(cfg, world)  # per-rank share of a minibatch
        self.updates_per_step = cfg.mu * (cfg.completions_per_step // cfg.minibatch)
        params = [p for p in model.parameters() if p.requires_grad]
        # fused: one kernel over all parameters instead of ~10 ops per tensor (same maths; off for DeepSpeed,
        # which wraps the optimizer, and for dtypes the fused kernel does not take)
        fused = accelerator is None and all(p.dtype in (torch.float32, torch.float16, torch.bfloat16) for p in params)
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.adam_betas),
                                      weight_decay=cfg.weight_decay, fused=fused or None)
        scheduler = make_scheduler(optimizer, cfg, cfg.total_steps * self.updates_per_step)
        self.backend, self.scheduler = make_backend(cfg, model, optimizer, scheduler, accelerator), scheduler
        self.is_main = self.backend.is_main
        self.ref_model = ref_model if cfg.beta > 0 else None
        if self.ref_model is not None and cfg.mixed_precision == "bf16_master":
            self.ref_model = bf16_copy(self.ref_model)
        if scorer is None:
            from rewards.scorer import Scorer
            scorer = Scorer(cfg.rewards, cfg.verifier_workers, cfg.verifier_deadline_s, plugins=cfg.reward_plugins)
        self.scorer = scorer
        engine_opts = {"dtype": cfg.rollout_dtype} if cfg.rollout_dtype else {}
        if cfg.engine == "transformers":
            engine_opts["native"] = cfg.native_rollout
        elif cfg.engine == "vllm":
            engine_opts.update(cfg.vllm.engine_kwargs(), seed=cfg.seed)
        engine_opts["return_logprobs"] = cfg.tis_cap is not None  # the sampler's log-probs, for TIS
        with self.backend.gathered():
            self.engine = make_engine(cfg.engine, self.backend.policy(), tokenizer, **engine_opts)
        self.update = PolicyUpdate(cfg, self.backend, tokenizer, self.ref_model, mb_size,
                                   share_prefix=cfg.share_prompt_prefix and not cfg.gradient_checkpointing)
        self.logger = MetricsLogger(self.run_dir, enabled=self.is_main)
        self.step = 0

    # -- state ------------------------------------------------------------------------------------
    def _unwrapped(self):
        """The plain module holding the trained weights (what is saved)."""
        return self.backend.master()

    @property
    def mp(self):
        """The float32 master / bf16 compute pair under bf16_master (None otherwise)."""
        return getattr(self.backend, "mp", None)

    def state(self) -> dict[str, Any]:
        return {**self.backend.state(), "scheduler": self.scheduler.state_dict(),
                "curriculum": self.curriculum.state_dict(), "entropy_coef": self.update.entropy_coef}

    def resume(self, ckpt_dir: Path) -> None:
        """Restore optimizer, scheduler, RNG and data order (weights were loaded from ckpt_dir)."""
        st = ckpt.load_trainer_state(ckpt_dir)
        self.backend.load(ckpt_dir, st)
        self.scheduler.load_state_dict(st["scheduler"])
        self.curriculum.load_state_dict(st["curriculum"])
        self.update.entropy_coef = float(st.get("entropy_coef", self.cfg.entropy_coef))
        ckpt.set_rng_state(st["rng"])
        with self.backend.gathered():
            self.engine.sync_weights(self.backend.policy())
        self.step = int(st["step"])
        self.logger.truncate_after(self.step)

    def save(self) -> Path | None:
        """Checkpoint the current step (call on every rank: DeepSpeed ranks write their shards, ZeRO-3 gathers)."""
        if self.is_main:
            ckpt.tmp_dir(self.run_dir, self.step)
        self.backend.barrier()
        self.backend.save_engine(ckpt.tmp_dir(self.run_dir, self.step, fresh=False))  # DeepSpeed: every rank's shard
        weights = self.backend.full_state_dict()
        self.backend.barrier()
        if not self.is_main:
            return None
        self.backend.check_engine(ckpt.tmp_dir(self.run_dir, self.step, fresh=False))
        return ckpt.save_checkpoint(self.run_dir, self.step, self._unwrapped(), self.tok, self.state(),
                                    keep=self.cfg.keep_checkpoints, staged=True, state_dict=weights)

    # -- the loop ---------------------------------------------------------------------------------
    def train(self, progress: bool = True) -> dict[str, Any]:
        from tqdm import tqdm

        cfg = self.cfg
        bar = tqdm(total=cfg.total_steps, initial=self.step, desc="grpo", disable=not (progress and self.is_main),
                   dynamic_ncols=True)
        t_start, last = time.time(), {}
        while self.step < cfg.total_steps:
            if cfg.max_minutes is not None and time.time() - t_start > 60 * cfg.max_minutes:
                bar.write(f"[train] time budget of {cfg.max_minutes} min reached at step {self.step}")
                break
            last = self.train_step(self.step + 1)
            self.step += 1
            bar.update(1)
            bar.set_postfix(reward=f"{last.get('reward/mean', 0):.3f}", acc=f"{last.get('accuracy', 0):.2f}",
                            len=f"{last.get('completion_len/mean', 0):.0f}")
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save()
            if cfg.release_memory_every and self.step % cfg.release_memory_every == 0:
                release_free_memory()
        bar.close()
        self.logger.close()
        return last

    def train_step(self, step: int) -> dict[str, Any]:
        cfg, timer = self.cfg, Timer()
        with timer.phase("prompts"):
            rows = self._rows_for(step, cfg.prompts_per_step, 0)
        with self.backend.gathered():  # ZeRO-3: full weights for all rollout rounds (ranks' rounds may differ)
            groups, metrics = self._sample_and_score(rows, step, timer)
        with timer.phase("advantage"):
            rewards = torch.tensor([[s.reward_filled for s in g] for g in groups])  # (P, G)
            zero_var = zero_variance_mask(rewards)  # (P,)
            adv = group_advantages(rewards, cfg.advantage)  # (P, G)
        flat = [s for g in groups for s in g]
        adv_flat = adv.reshape(-1)  # (P*G,)
        if cfg.process_penalty > 0:
            adv_flat = self._token_credit(flat, adv_flat)  # (P*G, T)
        with timer.phase("update"), self.update.attention():
            upd = self.update(flat, adv_flat, groups, step)
        with timer.phase("sync"), self.backend.gathered():  # the next rollout samples the updated policy
            self.engine.sync_weights(self.backend.policy())
        metrics.update(upd)
        metrics["entropy_coef"] = self.update.entropy_coef  # the coefficient this step trained with
        if cfg.entropy_target is not None:  # adaptive entropy control, on the ranks' mean entropy
            ent = self.backend.mean(upd.get("entropy"))
            self.update.entropy_coef = next_entropy_coef(self.update.entropy_coef, ent, cfg.entropy_target,
                                                         cfg.entropy_coef_step)
        metrics["zero_variance_frac"] = float(zero_var.float().mean())
        live = adv_flat[[s.trainable for s in flat]]
        live = live if live.dim() == 1 else live[:, 0]
        if live.numel():
            metrics.update({"adv/mean": float(live.mean()), "adv/std": float(live.std()) if live.numel() > 1 else 0.0,
                            "adv/min": float(live.min()), "adv/max": float(live.max())})
        with timer.phase("log"):
            if self.is_main and cfg.samples_every and step % cfg.samples_every == 0:
                self.logger.samples(step, [{"id": s.row.id, "prompt": s.row.problem, "gold": s.row.gold,
                                            "completion": s.text, "reward": s.reward, "reasons": s.reasons,
                                            "finish_reason": s.finish, "guided": s.guided} for s in flat[:: max(1, len(flat) // max(1, cfg.samples_per_step))][: cfg.samples_per_step]])
        for k, v in timer.seconds.items():
            metrics[f"time/{k}"] = v
        metrics["time/step"] = sum(timer.seconds.values())
        metrics["time/process_cpu_total"] = time.process_time()  # CPU seconds of this process so far (shared boxes)
        metrics["lr"] = self.scheduler.get_last_lr()[0]
        metrics["temperature"] = base_temperature(cfg, step)
        metrics.update(memory_mib())  # mem/rss_mib now, mem/peak_rss_mib so far (VmHWM)
        self.logger.log(step, metrics)
        return metrics

    # -- phases -----------------------------------------------------------------------------------
    def _rows_for(self, step: int, n: int, round_: int) -> list:
        """Round 0: the step's `n` prompts, this rank's share of them. Refill round r > 0: `n` rows for this
        rank alone (each rank refills its own groups), drawn from a stream seeded by (seed, step, round, rank)."""
        if round_ == 0:
            rows = self.curriculum.sample(step, n)
            return rows[self.backend.rank :: self.backend.world]
        rank = self.backend.rank
        suffix = f"/{rank}" if rank else ""  # (single-process streams unchanged: resumed runs stay comparable)
        return self.curriculum.sample(step, n, random.Random(f"{self.cfg.seed}/{step}/{round_}{suffix}"))

    def _rollout(self, rows: list, step: int, round_: int) -> list[list[Sample]]:
        """G completions per row at the step's member temperatures (each Sample keeps its own: the update scores
        it at that temperature); members with the same temperature are sampled in one call."""
        cfg = self.cfg
        if not rows:
            return []
        prompts = [render_prompt(self.tok, r.problem, template_for(r.verifier, cfg.template, cfg.templates))
                   for r in rows]
        prompt_ids = self.engine.encode_prompts(prompts)
        temps = member_temperatures(cfg, step)
        groups: list[list[Sample | None]] = [[None] * cfg.group_size for _ in rows]
        rank = self.backend.rank
        for k, t in enumerate(sorted(set(temps))):
            members = [j for j, tj in enumerate(temps) if tj == t]
            seed = (cfg.seed * 1_000_003 + step * 1009 + round_ * 101 + k * 7 + rank * 7919) % (2**31)
            params = SamplingParams(n=len(members), temperature=t, top_p=cfg.top_p,
                                    max_new_tokens=cfg.max_new_tokens, seed=seed, stop=list(cfg.stop))
            outs = self.engine.generate(prompt_ids, params)  # the ids the update scores: encoded once
            for i, comps in enumerate(outs):
                for j, c in zip(members, comps):
                    groups[i][j] = Sample(rows[i], prompt_ids[i], list(c.token_ids), c.text, c.finish_reason, t,
                                          c.logprobs)
        return groups  # type: ignore[return-value]

    def _score(self, groups: list[list[Sample]]) -> dict[str, int]:
        flat = [s for g in groups for s in g]
        scores = self.scorer.score([s.row for s in flat], [s.text for s in flat], [len(s.ids) for s in flat])
        fill_rewards(groups, scores, self.cfg.overlong_filter)
        return scores.reason_counts()

    def _sample_and_score(self, rows: list, step: int, timer: Timer) -> tuple[list[list[Sample]], dict]:
        cfg = self.cfg
        with timer.phase("rollout"):
            groups = self._rollout(rows, step, 0)
        with timer.phase("score"):
            reasons = collections.Counter(self._score(groups))
        all_seen = [s for g in groups for s in g]  # metrics describe the first round (the policy's own)
        guided = collections.Counter()
        with timer.phase("score"):
            guided.update(self._guide(groups))
        refills = 0
        for round_ in range(1, cfg.max_refill_rounds + 1 if cfg.dynamic_sampling else 1):
            flat_idx = [i for i, g in enumerate(groups) if is_flat(g)]
            if not flat_idx:
                break
            with timer.phase("prompts"):
                fresh = self._rows_for(step, len(flat_idx), round_)
            with timer.phase("rollout"):
                new = self._rollout(fresh, step, round_)
            with timer.phase("score"):
                reasons.update(self._score(new))
                guided.update(self._guide(new))
            for i, g in zip(flat_idx, new):
                if not is_flat(g):
                    groups[i] = g
                    refills += 1
        metrics = rollout_metrics(all_seen, reasons, refills, timer.seconds["rollout"])
        if cfg.guidance:
            metrics.update({"guidance/groups": guided["groups"], "guidance/rejected": guided["rejected"]})
        return groups, metrics

    def _guide(self, groups: list[list[Sample]]) -> dict[str, int]:
        """`guidance`: the last member of each group nobody solved becomes the row's worked solution, where the
        verifier accepts it (pipeline/grpo/guidance.py). Returns counts: groups guided, demonstrations rejected."""
        cfg = self.cfg
        if not cfg.guidance:
            return {}
        picks = [(i, d) for i, g in enumerate(groups) if needs_guidance(g)
                 and (d := demonstration(g[-1], self.tok, template_for(g[-1].row.verifier, cfg.template,
                                                                       cfg.templates))) is not None]
        if not picks:
            return {}
        self._score([[d for _, d in picks]])
        accepted = [(i, d) for i, d in picks if d.correct]
        for i, d in accepted:
            groups[i][-1] = d
            fill_group(groups[i], cfg.overlong_filter)
        return {"groups": len(accepted), "rejected": len(picks) - len(accepted)}

    def _token_credit(self, flat: list[Sample], adv: torch.Tensor) -> torch.Tensor:
        """Per-token advantages: the process verifier's first false step (a character span) mapped to tokens."""
        T = max(1, max(len(s.ids) for s in flat))
        mask = torch.zeros(len(flat), T)  # (B, T)
        for b, s in enumerate(flat):
            mask[b, : len(s.ids)] = 1.0
        spans = first_false_token_spans(flat, self.tok)
        return process_reward_adjustment(adv, mask, spans, self.cfg.process_penalty)  # (B, T)
