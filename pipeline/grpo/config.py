"""TrainConfig: every knob of the GRPO training stage, documented once (a string under each field).

Batch semantics, plainly: one *step* takes `prompts_per_step` prompts and samples `group_size`
completions for each, so completions per step = prompts_per_step x group_size. Those completions
are split into minibatches of `minibatch_size` completions; each minibatch is one optimizer step
after `grad_accum` micro-batches of minibatch_size / grad_accum completions; all minibatches are
visited `mu` times (update epochs). mu = 1 with one minibatch is strictly on-policy.

Loaded from YAML by `pipeline.config.load_config(TrainConfig, path, overrides)`; `validate()`
rejects contradictions naming the field.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from data.curriculum import CurriculumConfig
from pipeline.config import ConfigError
from pipeline.prompts import VERIFIER_TEMPLATES, check_stop, check_templates
from rewards.scorer import RewardSpec, check_specs  # noqa: F401  (RewardSpec: the type of `rewards`)
from pipeline.rollout.vllm_options import VLLMOptions
from pipeline.grpo.temperature import TemperatureOverTraining, check as check_temperature_over_training


@dataclasses.dataclass
class LoraConfig:
    enabled: bool = False
    """Train LoRA adapters (peft) instead of all weights; the final model is merged."""
    r: int = 16
    """LoRA rank."""
    alpha: int = 32
    """LoRA scaling alpha."""
    dropout: float = 0.0
    """LoRA dropout."""
    target_modules: list[str] = dataclasses.field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    """Module names to adapt."""


@dataclasses.dataclass
class TrainConfig:
    # -- model and prompts
    model: str = "embedded"
    """Policy model: "embedded" (SmolLM2-135M-Instruct), a local directory, a hub name, or a training stage's
    output directory (training continues from its final model; iterative rounds)."""
    ref_model: str | None = None
    """KL reference model when beta > 0 (same forms as `model`); None: the starting `model` itself."""
    template: Literal["r1", "r1_think", "boxed", "plain", "code"] = "boxed"
    """Prompt template (pipeline.prompts), rendered through the model's chat template."""
    templates: dict[str, str] = dataclasses.field(default_factory=lambda: dict(VERIFIER_TEMPLATES))
    """Per-verifier prompt templates overriding `template` for the rows that verifier checks (default: code rows
    get the code template); {} asks every row with `template`."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Parameter dtype of the policy (float32 on CPU)."""
    device: str = "cpu"
    """Torch device for a single-process run ("cpu", "cuda"); accelerate decides under DeepSpeed."""
    train_split: str = "train"
    """Split of the input dataset to train on."""
    eval_split: str = "eval"
    """Split held out for evaluation (never trained on; only its size is recorded here)."""
    max_train_rows: int | None = None
    """Use at most this many training rows (None: all)."""
    curriculum: CurriculumConfig = dataclasses.field(default_factory=CurriculumConfig)
    """Which training rows each step draws (data.curriculum: buckets and schedule)."""
    freeze_embeddings: bool = False
    """Do not train the input embeddings (tied lm_head included): cheaper steps on small CPUs."""

    # -- sampling
    prompts_per_step: int = 8
    """Prompts per training step."""
    group_size: int = 8
    """Completions sampled per prompt (the GRPO group, G)."""
    max_new_tokens: int = 128
    """Most tokens generated per completion; also Dr. GRPO's constant loss normaliser."""
    temperature: float = 1.0
    """Sampling temperature (also divides the logits when computing training log-probs)."""
    top_p: float = 1.0
    """Nucleus sampling threshold."""
    stop: list[str] = dataclasses.field(default_factory=list)
    """Stop strings ending a completion (pipeline.prompts), e.g. "\n```\n" after a code block; [] : EOS only."""
    temperature_schedule: list[float] = dataclasses.field(default_factory=list)
    """Optional per-member temperatures, one per group member (len == group_size); empty: all use `temperature`."""
    temperature_over_training: TemperatureOverTraining = dataclasses.field(default_factory=TemperatureOverTraining)
    """The base temperature over training steps (pipeline/grpo/temperature.py): `schedule` constant (default:
    `temperature` at every step, exactly as without the block), linear or cosine from `start` (null: `temperature`)
    at step 1 to `end` at step `steps` (null: total_steps) and after; start and end > 0. Per-member temperatures keep
    their ratio to `temperature`: member j samples at t_j * T(step) / temperature. The update scores each completion
    at the temperature it was sampled at; `temperature` in metrics.jsonl logs T(step).
    E.g. {schedule: cosine, start: 1.0, end: 0.7}."""

    # -- optimisation
    lr: float = 1e-6
    """Peak learning rate (AdamW)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    adam_betas: list[float] = dataclasses.field(default_factory=lambda: [0.9, 0.99])
    """AdamW betas."""
    warmup_steps: int = 0
    """Linear warm-up optimizer steps."""
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    """Learning-rate schedule after warm-up (decay to 0 over the run for linear / cosine)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this value (0 disables)."""
    minibatch_size: int | None = None
    """Completions per optimizer step (None: all completions of the step, one update per epoch)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (minibatch_size must divide by it)."""
    mu: int = 1
    """Update epochs over each step's completions (GRPO's mu); > 1 reuses samples with the clipped ratio."""
    beta: float = 0.0
    """KL penalty coefficient; the reference model is loaded only when beta > 0."""
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    """KL estimator (k3 is GRPO's)."""
    entropy_coef: float = 0.0
    """Entropy bonus (verl's entropy_coeff): the loss subtracts entropy_coef x the policy's per-token entropy,
    aggregated as the policy term (`loss_agg`), at the temperature each completion was sampled at; it pushes
    back on the entropy collapse of small models under RL. 0: entropy is only a metric (no gradient, and rows
    with a zero advantage skip the forward/backward). With `entropy_target`, the starting coefficient."""
    entropy_target: float | None = None
    """Adaptive entropy control (Skywork-OR1; pipeline/grpo/entropy_control.py): after each step the entropy
    coefficient moves by `entropy_coef_step`, up while the step's mean token entropy is below this target and down
    (to no less than 0) while above; logged as `entropy_coef`. None: the coefficient stays `entropy_coef`."""
    entropy_coef_step: float = 0.001
    """How far the adaptive entropy coefficient moves per step (with `entropy_target`)."""
    eps_low: float = 0.2
    """PPO clip range below 1."""
    eps_high: float = 0.2
    """PPO clip range above 1 (DAPO clip-higher: e.g. 0.28)."""
    clip_ratio_c: float | None = 3.0
    """Dual-clip bound for negative advantages (verl's clip_ratio_c): a token's policy loss is held at
    -A * clip_ratio_c when its ratio runs past it; null turns the dual clip off. Must be > 1."""
    tis_cap: float | None = 2.0
    """Truncated importance sampling of the sampler/trainer mismatch (TRL's vllm_importance_sampling_cap): each
    token's policy term is weighted by min(pi_trainer / pi_sampler, tis_cap), with the sampler's log-probs
    reported by the rollout engine. null turns it off (the engine then returns no log-probs)."""
    advantage: Literal["grpo", "drgrpo", "rloo"] = "grpo"
    """Group advantage: grpo (mean/std), drgrpo (mean only), rloo (leave-one-out)."""
    loss_agg: Literal["token_mean", "seq_mean_token_mean", "constant"] = "token_mean"
    """Loss aggregation over tokens (constant = Dr. GRPO, normalised by max_new_tokens)."""
    process_penalty: float = 0.0
    """Per-token advantage penalty on the span of the first false step from a process verifier (0: off)."""

    # -- filtering and modes
    dynamic_sampling: bool = False
    """Refill groups whose rewards are all equal with fresh prompts (DAPO), up to `max_refill_rounds`."""
    max_refill_rounds: int = 2
    """Extra sampling rounds dynamic sampling may spend per step."""
    guidance: bool = False
    """Off-policy guidance (LUFFY-style): in a group where no member is correct, the last member is replaced by
    the row's worked solution (`metadata.solution`, written in the template's answer format) when the verifier
    accepts it, and trained as if sampled (ratio against the current policy, TIS weight 1). For a small model
    that never samples a needed step (SmolLM2-135M never writes the minus sign of a negative result). Rows
    without a solution are untouched. A guided run learns from reference solutions: it is no longer "zero"."""
    overlong_filter: bool = False
    """Mask out (no loss) completions cut at max_new_tokens."""
    mode: Literal["grpo", "best_of_n"] = "grpo"
    """grpo: policy gradient. best_of_n: SFT on the best-scoring completion of each group (if it scores > 0)."""

    # -- rewards
    rewards: list[RewardSpec] = dataclasses.field(default_factory=lambda: [RewardSpec()])
    """Weighted objectives; the reward is their weighted sum (skipped rows drop out)."""
    reward_plugins: list[str] = dataclasses.field(default_factory=list)
    """Modules imported (by the trainer and the verifier workers) so their `@register` verifiers exist."""
    verifier_workers: int = 2
    """Worker processes scoring completions."""
    verifier_deadline_s: float = 5.0
    """Per-completion verifier deadline."""

    # -- engine and systems
    engine: Literal["transformers", "vllm"] = "transformers"
    """Rollout engine: transformers (CPU/GPU) or vllm (colocated in the training process, weights synced each
    step; vLLM's CPU build on a CPU machine, its CUDA build on a GPU one)."""
    vllm: VLLMOptions = dataclasses.field(default_factory=VLLMOptions)
    """vLLM engine settings (memory share, KV-cache size, max_model_len, eager mode, sleep mode, dtype), used
    when engine is vllm (pipeline/rollout/vllm_options.py)."""
    mixed_precision: Literal["no", "bf16", "bf16_master", "auto"] = "no"
    """auto: bf16_master (bf16 under a multi-process launch) where the device computes bfloat16 natively (a CUDA
    GPU with bf16, a CPU with AVX512-BF16 or AMX), else no: on a CPU without them bf16 matmuls are emulated
    (measured 65x slower than float32 on an AVX2-only EPYC); the manifest records what ran. bf16: the update's forward/backward runs under torch.autocast(bfloat16) (weights, gradients and
    AdamW state stay in `dtype`), as TRL/accelerate's `bf16=True`; ~2x on CPUs with AMX/AVX512-BF16.
    bf16_master: forward, backward and rollouts run on a bfloat16 copy of the model (bf16 activations and
    gradients, as DeepSpeed's bf16 mode); gradients are added into float32 master weights, which AdamW
    updates and checkpoints save (pipeline/grpo/precision.py). Faster than autocast (no per-op casts)."""
    share_prompt_prefix: bool = True
    """Update: run each group's prompt once and let its G completions attend to the shared keys/values
    (exact same log-probs and gradients; off under gradient checkpointing)."""
    update_attention: Literal["auto", "model", "eager", "sdpa", "lean"] = "auto"
    """Attention kernel for the update's forward/backward only (rollouts keep the model's own). auto: lean on
    CPU where `lean_update` applies, else eager (PyTorch's CPU flash-attention backward is slow: eager measured
    1.7x faster for a 32 x 134-token bf16 forward/backward of SmolLM2-135M), the model's own on GPUs; lean: eager's
    arithmetic keeping only q, k, v for backward (pipeline/grpo/lean_layers.py); model: never switch."""
    lean_update: bool = True
    """Update: Llama-family RMSNorm and SwiGLU MLP keep only their inputs for backward and recompute the rest
    (pipeline/grpo/lean_layers.py; same log-probs, gradients to rounding): about 60% fewer activation bytes.
    Applies to single-process runs on the native path's model families (not under DeepSpeed/accelerate)."""
    release_memory_every: int = 0
    """Every this many steps give the heap's free pages back to the kernel (glibc `malloc_trim` when more than
    256 MB sit free, pipeline/allocator.py), so blocks freed by steps of other lengths do not stay resident; 0:
    never. Off by default: each release costs the next step its page faults (+0.7 s a step when done every step),
    and every 10 steps it did not lower the embedded run's peak (4282 vs 4279 MiB over 83 steps), set within steps."""
    rollout_dtype: Literal["bfloat16", "float16"] | None = None
    """transformers engine: sample from a private copy of the policy in this dtype, refreshed after every
    update (as vLLM samples in bf16); the trainer still scores the samples in its own precision. None: sample
    with the policy itself."""
    native_rollout: bool = True
    """transformers engine on the CPU: sample through the lean Llama-family forward (pipeline/rollout/native.py:
    fused projections, pre-packed bf16 weights) when the architecture is supported; the model's forward
    otherwise (and on GPUs)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    lora: LoraConfig = dataclasses.field(default_factory=LoraConfig)
    """LoRA settings (peft)."""
    deepspeed: str | None = None
    """Path of a DeepSpeed JSON config (ZeRO-2/3), used when launched with accelerate."""
    num_threads: int | None = None
    """torch CPU threads (None: torch's default)."""

    # -- run control
    total_steps: int = 100
    """Training steps (each: prompts_per_step x group_size completions)."""
    checkpoint_every: int = 25
    """Write an atomic checkpoint every N steps (0: only the final model)."""
    keep_checkpoints: int = 2
    """Most recent checkpoints kept."""
    samples_every: int = 1
    """Write sample completions every N steps."""
    samples_per_step: int = 4
    """Completions written to samples.jsonl per sampled step."""
    seed: int = 0
    """Seed for data order, sampling and initialisation of any new weights."""
    max_minutes: float | None = None
    """Stop cleanly after this many minutes of training (the final model is still written)."""

    def validate(self) -> None:
        n = self.prompts_per_step * self.group_size
        check_templates(self.template, self.templates)
        check_stop(self.stop)
        if self.prompts_per_step < 1 or self.group_size < 1:
            raise ConfigError("prompts_per_step and group_size must be >= 1")
        if self.mode == "grpo" and self.group_size < 2:
            raise ConfigError("group_size: GRPO needs at least 2 completions per prompt")
        if self.temperature_schedule and len(self.temperature_schedule) != self.group_size:
            raise ConfigError(f"temperature_schedule: has {len(self.temperature_schedule)} entries, "
                              f"group_size is {self.group_size}")
        if self.temperature < 0 or any(t <= 0 for t in self.temperature_schedule):
            raise ConfigError("temperature: must be >= 0 (schedule entries > 0)")
        check_temperature_over_training(self.temperature_over_training, self.temperature,
                                        per_member=bool(self.temperature_schedule))
        if self.temperature == 0 and self.mode == "grpo":
            raise ConfigError("temperature: 0 (greedy) gives identical group members; GRPO needs sampling")
        if not 0 < self.top_p <= 1:
            raise ConfigError("top_p: must be in (0, 1]")
        mb = self.minibatch_size or n
        if mb > n or n % mb:
            raise ConfigError(f"minibatch_size: {mb} must divide the completions per step ({n})")
        if self.grad_accum < 1 or mb % self.grad_accum:
            raise ConfigError(f"grad_accum: {self.grad_accum} must divide minibatch_size ({mb})")
        if self.mu < 1:
            raise ConfigError("mu: must be >= 1")
        if self.eps_low < 0 or self.eps_high < 0 or self.eps_low >= 1:
            raise ConfigError("eps_low/eps_high: need 0 <= eps_low < 1 and eps_high >= 0")
        if self.beta < 0:
            raise ConfigError("beta: must be >= 0")
        if self.entropy_coef < 0:
            raise ConfigError("entropy_coef: must be >= 0 (a bonus; 0 turns it off)")
        if self.entropy_target is not None and (self.entropy_target <= 0 or self.entropy_coef_step <= 0):
            raise ConfigError("entropy_target: must be > 0 (mean token entropy, nats), with entropy_coef_step > 0")
        if (self.entropy_coef > 0 or self.entropy_target is not None) and self.mode == "best_of_n":
            raise ConfigError("entropy_coef: best_of_n trains by likelihood on the best completion; "
                              "set entropy_coef: 0 (and no entropy_target)")
        if self.clip_ratio_c is not None and self.clip_ratio_c <= 1:
            raise ConfigError("clip_ratio_c: the dual-clip bound must be > 1 (or null for off)")
        if self.tis_cap is not None and self.tis_cap < 1:
            raise ConfigError("tis_cap: must be >= 1 (or null for off)")
        if self.lr <= 0:
            raise ConfigError("lr: must be > 0")
        if self.guidance and self.mode == "best_of_n":
            raise ConfigError("guidance: only meaningful in grpo mode (best_of_n already trains on a group's best)")
        if self.mode == "best_of_n" and self.beta > 0:
            raise ConfigError("beta: best_of_n trains by likelihood on the best completion, with no KL term; set beta: 0")
        if self.dynamic_sampling and self.mode == "best_of_n":
            raise ConfigError("dynamic_sampling: only meaningful in grpo mode")
        if self.engine == "vllm" and self.device == "cpu" and self.vllm.enable_sleep_mode:
            raise ConfigError("vllm.enable_sleep_mode: frees GPU memory for the update, which runs on the CPU here "
                              "(and vLLM's CPU backend has no sleep mode); set it to false")
        if self.mixed_precision == "bf16_master" and self.dtype != "float32":
            raise ConfigError("mixed_precision: bf16_master keeps float32 master weights; set dtype: float32")
        if self.mixed_precision == "bf16_master" and self.deepspeed:
            raise ConfigError("mixed_precision: bf16_master is not for DeepSpeed runs (set bf16 in the DeepSpeed "
                              "config instead)")
        if self.rollout_dtype is not None and self.engine != "transformers":
            raise ConfigError("rollout_dtype: only for the transformers engine (vLLM's is vllm.dtype)")
        from rewards.registry import load_plugins

        load_plugins(list(self.reward_plugins))  # so plugin verifiers can be named in `rewards`
        check_specs(self.rewards)
        if self.total_steps < 1:
            raise ConfigError("total_steps: must be >= 1")
        self.curriculum.validate()
        if self.process_penalty > 0 and not any(r.verifier == "process" for r in self.rewards):
            raise ConfigError("process_penalty: needs a rewards entry with verifier: process (weight may be 0)")
        if self.checkpoint_every < 0 or self.release_memory_every < 0:
            raise ConfigError("checkpoint_every and release_memory_every: must be >= 0")

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.group_size

    @property
    def minibatch(self) -> int:
        return self.minibatch_size or self.completions_per_step
