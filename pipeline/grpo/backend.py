"""Training backends: what differs between one process, bf16 master weights and accelerate/DeepSpeed.

The GRPO step (pipeline/grpo/trainer.py) talks only to this interface, so it reads as its phases:

  compute                 module that runs the update's forward/backward (the DeepSpeed engine, the bf16
                          copy under bf16_master, else the model)
  policy()                plain module that samples and is checkpointed (unwrapped; bf16 copy under bf16_master)
  master()                plain module holding the weights the optimizer updates (what is saved)
  rank, world, is_main    this process in the run
  backward(loss, last)    one micro-batch; `last` closes the optimizer step's accumulation window
  step(max_norm)          clip, optimizer step, LR step, zero grads, refresh copies -> grad norm or None
  optimizer_steps         optimizer steps taken so far (DeepSpeed: the engine's own count)
  reduce_sum(x)           sum of a float over ranks (global loss normalisers)
  gathered()              context in which every rank can read the full weights (ZeRO-3 gathers them)
  state() / load(...)     optimizer state for trainer_state.pt, and restore from a checkpoint
  save_engine(dir)        engine-owned state (DeepSpeed: each rank's ZeRO shard), on every rank
  full_state_dict()       full weights for saving, on every rank (ZeRO-3 gathers; else None = the module's own)

Accumulation means what it says in every backend: `grad_accum` micro-batches add into one gradient and
make exactly one optimizer step per minibatch (DeepSpeed's engine is told the accumulation boundary
itself, so it neither steps on every micro-batch nor rescales the loss). The LR scheduler is stepped once
per optimizer step by the trainer (never through accelerate's wrapper, which steps it once per process).

    backend = make_backend(cfg, model, optimizer, scheduler, accelerator)
    for micro, last in ...: backend.backward(loss(backend.compute), last)
    backend.step(cfg.grad_clip)
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from pipeline.grpo.precision import Bf16Master


class LocalBackend:
    """One process; the model in its own dtype (optionally under autocast, which the trainer handles)."""

    rank, world, is_main = 0, 1, True
    lean_unsupported: str | None = None
    """Why the lean update modules (pipeline/grpo/lean_layers.py) cannot run under this backend; None: they can."""

    def __init__(self, model, optimizer, scheduler):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.compute = model
        self._steps = 0

    @property
    def optimizer_steps(self) -> int:
        return self._steps

    def policy(self):
        return self.model

    def master(self):
        return self.model

    def backward(self, loss: torch.Tensor, last: bool) -> None:
        loss.backward()

    def _clip(self, params: list, max_norm: float) -> float:
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))

    def step(self, max_norm: float) -> float | None:
        norm = None
        if max_norm > 0:
            norm = self._clip([p for p in self.master().parameters() if p.requires_grad], max_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._steps += 1
        return norm

    def reduce_sum(self, x: float) -> float:
        return x

    def mean(self, x: float | None) -> float | None:
        """x averaged over the ranks (every rank calls it; one process: x as it is, None included)."""
        return x if self.world == 1 else self.reduce_sum(x) / self.world

    def gathered(self):
        return contextlib.nullcontext()

    def barrier(self) -> None:
        pass

    def state(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "optimizer_steps": self.optimizer_steps}

    def load(self, ckpt_dir: Path, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self._steps = int(state.get("optimizer_steps", 0))

    def save_engine(self, staging_dir: Path) -> bool:
        """Write engine-owned state into the checkpoint's staging directory; False when there is none."""
        return False

    def check_engine(self, staging_dir: Path) -> None:
        """After every rank saved (main rank): raise if the staging directory lacks a rank's engine state."""

    def full_state_dict(self):
        return None


class Bf16MasterBackend(LocalBackend):
    """float32 master weights updated by AdamW; forward, backward and rollouts on a bf16 copy."""

    def __init__(self, model, optimizer, scheduler):
        super().__init__(model, optimizer, scheduler)
        self.mp = Bf16Master(model)
        self.compute = self.mp.compute

    def policy(self):
        return self.mp.compute

    def backward(self, loss: torch.Tensor, last: bool) -> None:
        loss.backward()
        self.mp.accumulate_grads()  # bf16 grads added into the float32 master's

    def step(self, max_norm: float) -> float | None:
        norm = super().step(max_norm)
        self.mp.sync()
        return norm

    def load(self, ckpt_dir: Path, state: dict) -> None:
        super().load(ckpt_dir, state)
        self.mp.sync()


class AccelerateBackend(LocalBackend):
    """accelerate-prepared model and optimizer over N processes (DDP, or DeepSpeed ZeRO-1/2/3)."""

    lean_unsupported = "DeepSpeed/accelerate run (ZeRO-3 gathers weights in module hooks)"

    def __init__(self, model, optimizer, scheduler, accelerator):
        self.acc = accelerator
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        self.scheduler = scheduler  # stepped by us once per optimizer step (see module docstring)
        self.compute = self.model
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.is_main = accelerator.is_main_process
        self._steps = 0
        self.deepspeed = accelerator.distributed_type == "DEEPSPEED"  # (DistributedType is a str enum)
        self.engine = accelerator.deepspeed_engine_wrapped.engine if self.deepspeed else None
        self.zero3 = self.deepspeed and self.engine.zero_optimization_stage() == 3

    @property
    def optimizer_steps(self) -> int:
        return int(self.engine.global_steps) if self.deepspeed else self._steps

    def policy(self):
        return self.acc.unwrap_model(self.model)

    def master(self):
        return self.policy()

    def backward(self, loss: torch.Tensor, last: bool) -> None:
        if not self.deepspeed:
            self.acc.backward(loss)
            return
        # DeepSpeed: the boundary decides whether this backward ends the window (gradient reduction, then the
        # optimizer step inside engine.step()); the loss is already normalised over the whole minibatch.
        self.engine.set_gradient_accumulation_boundary(last)
        self.engine.backward(loss, scale_wrt_gas=False)
        self.engine.step()

    def step(self, max_norm: float) -> float | None:
        if self.deepspeed:  # the engine stepped (and clipped, `gradient_clipping`) at the boundary
            self.scheduler.step()
            norm = self.engine.get_global_grad_norm()
            return None if norm is None else float(norm)
        return super().step(max_norm)

    def _clip(self, params: list, max_norm: float) -> float:
        return float(self.acc.clip_grad_norm_(params, max_norm))  # (DDP: the wrapped model's parameters)

    def reduce_sum(self, x: float) -> float:
        t = torch.tensor([float(x)], device=self.acc.device)
        return float(self.acc.reduce(t, reduction="sum"))

    def gathered(self):
        return _zero3_full_weights(self.engine) if self.zero3 else contextlib.nullcontext()

    def barrier(self) -> None:
        self.acc.wait_for_everyone()

    def state(self) -> dict:
        # Under DeepSpeed the optimizer state is sharded across ranks: save_engine writes each rank's shard.
        opt = None if self.deepspeed else self.optimizer.state_dict()
        return {"optimizer": opt, "optimizer_steps": self.optimizer_steps}

    def load(self, ckpt_dir: Path, state: dict) -> None:
        if not self.deepspeed:
            super().load(ckpt_dir, state)
            return
        engine_dir = Path(ckpt_dir) / "deepspeed"
        if not engine_dir.is_dir():
            raise RuntimeError(f"{ckpt_dir} has no deepspeed/ engine state (written by an older version?): "
                               "cannot restore the partitioned optimizer; start a fresh run (--force)")
        self.acc.load_state(str(engine_dir))  # every rank: weights + its optimizer shard

    def save_engine(self, staging_dir: Path) -> bool:
        if not self.deepspeed:
            return False
        self.acc.save_state(str(Path(staging_dir) / "deepspeed"))
        return True

    def check_engine(self, staging_dir: Path) -> None:
        if not self.deepspeed:
            return
        shards = list((Path(staging_dir) / "deepspeed").rglob("*optim_states.pt"))
        if len(shards) != self.world:
            raise RuntimeError(f"checkpoint {staging_dir} holds {len(shards)} of {self.world} ranks' ZeRO optimizer "
                               "shards, so it could not be resumed: --out must be on a filesystem every machine shares")

    def full_state_dict(self):
        return self.acc.get_state_dict(self.model) if self.zero3 else None


@contextlib.contextmanager
def _zero3_full_weights(engine):
    """Full weights on every rank, with ZeRO-3's module hooks lifted (as TRL's unwrap_model_for_generation).

    Every rank enters together (the gather is a collective). Without lifting the hooks, each forward inside
    would re-partition its weights on exit and re-gather them (another collective) on the next call, so
    ranks that decode different numbers of tokens would wait on each other forever."""
    import deepspeed

    module, offload = engine.module, engine.optimizer.parameter_offload
    with deepspeed.zero.GatheredParameters(list(module.parameters())):  # read-only: partitions stay as they are
        for p in module.parameters():
            p.ds_active_sub_modules.clear()
        for hook in offload.forward_hooks + offload.backward_hooks:
            hook.remove()
        offload.forward_hooks, offload.backward_hooks = [], []
        try:
            yield
        finally:
            offload._register_deepspeed_module(offload.module)


def make_backend(cfg, model, optimizer, scheduler, accelerator=None) -> LocalBackend:
    """The backend for this run: accelerate when launched with one, bf16_master or plain otherwise."""
    if accelerator is not None:
        if cfg.mixed_precision == "bf16_master":
            from pipeline.config import ConfigError

            raise ConfigError("mixed_precision: bf16_master is single-process only (a multi-process wrapper would "
                              "not see the copy's gradients); use bf16 or DeepSpeed's bf16")
        return AccelerateBackend(model, optimizer, scheduler, accelerator)
    if cfg.mixed_precision == "bf16_master":
        return Bf16MasterBackend(model, optimizer, scheduler)
    return LocalBackend(model, optimizer, scheduler)
