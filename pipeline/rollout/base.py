"""The rollout engine interface shared by training, difficulty estimation and evaluation.

Sampling parameters mean the same in every engine. `generate(prompts, params)` returns, for
each prompt (already rendered through the chat template), `params.n` completions. A step of
training is: prompts per step x group size (= `n`) = completions per step.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass
class SamplingParams:
    n: int = 1  # completions per prompt (the GRPO group size)
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 disables top-k
    max_new_tokens: int = 256
    seed: int | None = None  # per-call seed; same seed + same prompts = same samples (per engine)
    stop: list[str] = dataclasses.field(default_factory=list)  # extra stop strings
    ignore_eos: bool = False  # keep sampling past EOS up to max_new_tokens (fixed lengths, for benchmarks)


@dataclasses.dataclass
class Completion:
    text: str
    token_ids: list[int]  # generated tokens only (no prompt), EOS included when generated
    finish_reason: str  # "stop" (EOS or stop string) or "length" (hit max_new_tokens)
    logprobs: list[float] | None = None  # sampling log-probs of token_ids, when the engine returns them


def encode_prompts(tokenizer, prompts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
    """Token ids of rendered prompts, exactly as every engine feeds them (and the trainer scores them)."""
    enc = tokenizer(prompts, add_special_tokens=add_special_tokens)
    return [list(ids) for ids in enc["input_ids"]]


def prompt_token_ids(tokenizer, prompts: list[str] | list[list[int]], add_special_tokens: bool = False) -> list[list[int]]:
    """What `generate` takes: rendered prompt strings (encoded here) or their token ids, used as given (a caller
    that already encoded its prompts, like the trainer, passes the ids it will score: no second encode)."""
    if all(isinstance(p, (list, tuple)) for p in prompts):
        return [list(p) for p in prompts]
    if any(isinstance(p, (list, tuple)) for p in prompts):
        raise TypeError("generate: prompts must be all strings or all token-id lists")
    return encode_prompts(tokenizer, prompts, add_special_tokens)


def validate_params(params: SamplingParams) -> None:
    """Reject sampling parameters that vLLM would reject, naming the field."""
    if params.n < 1:
        raise ValueError(f"SamplingParams.n must be >= 1, got {params.n}")
    if params.temperature < 0:
        raise ValueError(f"SamplingParams.temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"SamplingParams.top_p must be in (0, 1], got {params.top_p}")
    if params.top_k < 0:
        raise ValueError(f"SamplingParams.top_k must be >= 0 (0 disables), got {params.top_k}")
    if params.max_new_tokens < 1:
        raise ValueError(f"SamplingParams.max_new_tokens must be >= 1, got {params.max_new_tokens}")


class PromptEncoder:
    """What every engine shares before sampling: prompts, rendered strings or token ids, become the ids fed to the
    model (`encode_prompts`, `prompt_token_ids`), with the sampling parameters checked first."""

    tokenizer = None
    add_special_tokens: bool = False

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        return encode_prompts(self.tokenizer, prompts, self.add_special_tokens)

    def _prompt_ids(self, prompts: list[str] | list[list[int]], params: SamplingParams) -> list[list[int]]:
        validate_params(params)
        ids = prompt_token_ids(self.tokenizer, prompts, self.add_special_tokens) if prompts else []
        if any(len(p) == 0 for p in ids):
            raise ValueError("empty prompt: every prompt must encode to at least one token")
        return ids


class EngineUnavailable(ImportError):
    """The requested rollout engine's package is not installed; the message says how to install it (the stage
    scripts print it as one line and exit 2)."""


class RolloutEngine(Protocol):
    def generate(self, prompts: list[str] | list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        """`params.n` completions per prompt; prompts are rendered strings or token ids (`prompt_token_ids`)."""

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        """Token ids of each prompt exactly as the engine feeds them (`encode_prompts` above)."""

    def sync_weights(self, model) -> None:
        """Make the engine sample from `model`'s current weights (no-op when it shares them)."""


def make_engine(name: str, model, tokenizer, **kwargs) -> RolloutEngine:
    """Engine factory: "transformers" (CPU/GPU) or "vllm" (CPU or GPU build of vLLM, an optional install)."""
    if name == "transformers":
        from pipeline.rollout.hf import HFEngine

        return HFEngine(model, tokenizer, **kwargs)
    if name == "vllm":
        from pipeline.rollout.vllm_engine import VLLMEngine

        return VLLMEngine(model, tokenizer, **kwargs)
    raise ValueError(f"unknown rollout engine {name!r}; choose 'transformers' or 'vllm'")
