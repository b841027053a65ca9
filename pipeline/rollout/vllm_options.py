"""The `vllm:` block of the train, difficulty and eval configs: settings of the vLLM rollout engine.

A plain dataclass that imports neither vLLM nor torch, so every stage's config loads on machines without vLLM;
`engine_kwargs()` turns it into `pipeline.rollout.vllm_engine.VLLMEngine` keyword arguments.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

CPU_DEFAULT_KV_CACHE_GB = 2.0


@dataclasses.dataclass
class VLLMOptions:
    """Settings of the vLLM rollout engine (used when `engine: vllm`); the `vllm:` block of the train, difficulty
    and eval configs. `engine_kwargs()` turns it into VLLMEngine keyword arguments."""

    gpu_memory_utilization: float = 0.3
    """GPU: the share of the GPU's memory vLLM may take (its weights, activations and KV cache); a colocated
    training engine leaves the rest to the update (0.3), an evaluation that has the GPU to itself can take 0.85.
    CPU: vLLM reads it as a share of RAM, and only when kv_cache_gb is null and VLLM_CPU_KVCACHE_SPACE unset."""
    kv_cache_gb: float | None = None
    """KV-cache size in GiB (vLLM's kv_cache_memory_bytes); it bounds how many tokens are in flight at once.
    null: on a GPU vLLM sizes it from gpu_memory_utilization; on the CPU 2 GiB, or VLLM_CPU_KVCACHE_SPACE (GiB)
    when that is set (SmolLM2-135M in float32 needs 46 KiB per token: 2 GiB holds ~46k tokens)."""
    max_model_len: int | None = None
    """Longest prompt + completion vLLM accepts, in tokens (null: the model's own limit). The KV cache must hold
    at least one sequence this long."""
    enforce_eager: bool | None = None
    """Run the model eagerly. null: true on the CPU (torch.compile would add minutes to the start), false on a GPU
    (CUDA graphs: faster decoding, a longer start)."""
    enable_sleep_mode: bool = False
    """GPU only: after each rollout put vLLM to sleep (KV cache freed, weights offloaded to CPU RAM) so the
    update has the GPU's memory; it wakes for the next weight push. vLLM's CPU backend has no sleep mode: refused."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of vLLM's copy of the weights. auto: the policy's own dtype (under bf16_master its bfloat16 copy).
    bfloat16 samples much faster on CPUs with AMX / AVX512-BF16, from a bf16-rounded policy."""

    def validate(self) -> None:
        from pipeline.config import ConfigError

        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError("vllm.gpu_memory_utilization: must be in (0, 1]")
        if self.kv_cache_gb is not None and self.kv_cache_gb <= 0:
            raise ConfigError("vllm.kv_cache_gb: must be > 0 (or null)")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ConfigError("vllm.max_model_len: must be >= 1 (or null)")

    def engine_kwargs(self) -> dict:
        """VLLMEngine keyword arguments (pass `seed=`, `model_path=`, `return_logprobs=` beside them)."""
        return {"gpu_memory_utilization": self.gpu_memory_utilization, "kv_cache_gb": self.kv_cache_gb,
                "max_model_len": self.max_model_len, "enforce_eager": self.enforce_eager,
                "enable_sleep_mode": self.enable_sleep_mode, "dtype": None if self.dtype == "auto" else self.dtype}
