"""VLLMEngine: colocated vLLM rollouts on the training GPU, weights pushed after each update.

Input/output as every engine (`pipeline/rollout/base.py`): rendered prompts and our
`SamplingParams` in, `params.n` `Completion`s per prompt out. vLLM is imported lazily, only
when this engine is built, so CPU code paths never import it (`pip install -e .[vllm]`).

Design (the TRL "colocate" mode, without a server):
- vLLM runs in the training process (`distributed_executor_backend="external_launcher"`), so
  `sync_weights(model)` copies the policy's parameters straight into vLLM's model with its
  `load_weights` (no disk round trip) and clears the prefix cache. For a PEFT model the adapter is
  merged for the copy and unmerged afterwards; names are mapped back to the base model's.
- `gpu_memory_utilization` bounds vLLM's share of the GPU (weights + KV cache); the trainer keeps
  the rest. `enable_sleep_mode=True` puts vLLM to sleep (level 1: KV cache freed, weights offloaded
  to CPU) after each `generate`, giving the GPU back to the update; it wakes before the next push
  or rollout.
- Sampling parameters map one to one (temperature 0 = greedy, top_k 0 = off); prompts are sent as
  token ids from `encode_prompts`, exactly the ids the trainer scores; each prompt gets its own
  seed derived from `params.seed`, so the same seed gives the same samples.
- Log-probs (`return_logprobs=True`) are vLLM's default raw log-probs of the sampled tokens, the
  same meaning as HFEngine's.

    engine = make_engine("vllm", model, tokenizer, gpu_memory_utilization=0.3)
    groups = engine.generate(prompts, SamplingParams(n=8, temperature=1.0, max_new_tokens=1024, seed=0))
    ...optimizer.step()...
    engine.sync_weights(model)
"""

from __future__ import annotations

import os

from pipeline.rollout.base import Completion, SamplingParams, encode_prompts
from pipeline.rollout.sampling import validate_params


def _import_vllm():
    try:
        import vllm  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the 'vllm' rollout engine needs vLLM on a CUDA machine: `pip install -e .[vllm]` "
                          "(or set engine: transformers)") from e
    return vllm


def _ensure_single_process_dist_env() -> None:
    """external_launcher reads torch.distributed variables; provide single-process defaults."""
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                       ("MASTER_PORT", "29533")):
        os.environ.setdefault(key, value)


def _prompt_seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else (seed * 1_000_003 + index * 7919) % (2**31 - 1)


class VLLMEngine:
    """Colocated vLLM engine. `model_path`: what vLLM loads at start (default: the model's name_or_path);
    the in-memory weights are pushed right after, so a path with the same architecture is enough."""

    def __init__(self, model, tokenizer, *, model_path: str | None = None, gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, dtype: str | None = None, enable_sleep_mode: bool = False,
                 return_logprobs: bool = False, add_special_tokens: bool = False, seed: int = 0, **llm_kwargs):
        vllm = _import_vllm()
        self._vllm = vllm
        self.tokenizer = tokenizer
        self.return_logprobs = return_logprobs
        self.add_special_tokens = add_special_tokens
        self.enable_sleep_mode = enable_sleep_mode
        path = model_path or getattr(model, "name_or_path", None) or model.config._name_or_path
        if not path:
            raise ValueError("VLLMEngine needs model_path (the model's name_or_path is empty)")
        if dtype is None:
            dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        _ensure_single_process_dist_env()
        self.llm = vllm.LLM(model=path, tokenizer=path, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                            max_model_len=max_model_len, enable_sleep_mode=enable_sleep_mode, seed=seed,
                            distributed_executor_backend="external_launcher", **llm_kwargs)
        self._asleep = False
        self.sync_weights(model)

    # -- weights ---------------------------------------------------------------------------------
    def _runner_model(self):
        executor = self.llm.llm_engine.model_executor
        worker = executor.driver_worker
        for path in (("model_runner", "model"), ("worker", "model_runner", "model")):
            obj = worker
            try:
                for attr in path:
                    obj = getattr(obj, attr)
                return obj
            except AttributeError:
                continue
        raise RuntimeError("cannot reach vLLM's in-process model (is distributed_executor_backend='external_launcher'?)")

    def sync_weights(self, model) -> None:
        """Copy `model`'s current parameters into vLLM (PEFT adapters merged for the copy)."""
        self._wake()
        is_peft = hasattr(model, "merge_adapter") and hasattr(model, "unmerge_adapter")
        if is_peft:
            model.merge_adapter()
        try:
            target = self._runner_model()
            target.load_weights(_named_weights(model, is_peft))
        finally:
            if is_peft:
                model.unmerge_adapter()
        self.llm.reset_prefix_cache()

    def _wake(self) -> None:
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False

    # -- generation ------------------------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        return encode_prompts(self.tokenizer, prompts, self.add_special_tokens)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        validate_params(params)
        if not prompts:
            return []
        ids = self.encode_prompts(prompts)
        sps = [self._vllm.SamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                         top_k=params.top_k if params.top_k > 0 else -1,
                                         max_tokens=params.max_new_tokens, seed=_prompt_seed(params.seed, i),
                                         stop=list(params.stop) or None, skip_special_tokens=True,
                                         logprobs=0 if self.return_logprobs else None)
               for i in range(len(prompts))]
        self._wake()
        outs = self.llm.generate([{"prompt_token_ids": p} for p in ids], sampling_params=sps, use_tqdm=False)
        if self.enable_sleep_mode:
            self.llm.sleep(level=1)
            self._asleep = True
        return [[_completion(o) for o in req.outputs] for req in outs]


def _completion(out) -> Completion:
    token_ids = list(out.token_ids)
    logprobs = None
    if out.logprobs is not None:
        logprobs = [float(step[tok].logprob) for step, tok in zip(out.logprobs, token_ids)]
    reason = "length" if out.finish_reason == "length" else "stop"
    return Completion(text=out.text, token_ids=token_ids, finish_reason=reason, logprobs=logprobs)


def _named_weights(model, is_peft: bool):
    """(name, tensor) pairs named as in the base Hugging Face checkpoint."""
    for name, param in model.named_parameters():
        if is_peft:
            if "lora_" in name or ".original_module." in name:
                continue
            name = name.removeprefix("base_model.model.").replace(".base_layer", "")
            name = name.replace(".modules_to_save.default", "")
        yield name, param.data
