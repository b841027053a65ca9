"""bf16 compute with float32 master weights (`mixed_precision: bf16_master`).

The trainer's model stays float32 and is what AdamW updates, what checkpoints save and what the manifest
points to (the master). A bfloat16 copy of it (the compute model) runs the update's forward and backward
and the rollouts: activations, the residual stream and gradients are bf16, as under DeepSpeed's bf16 mode or
FSDP's `param_dtype=bfloat16`. After each backward the bf16 gradients are added into float32 `.grad`s on
the master (so gradient accumulation, clipping and AdamW run in float32), and after each optimizer step
the compute copy is refreshed from the master (one cast-copy of the weights).

Against `mixed_precision: bf16` (torch.autocast over float32 weights, TRL/accelerate's `bf16=True`) this
drops the per-op casts of weights and activations and halves the activation memory traffic; float
buffers (RoPE inverse frequencies) stay float32 in the copy, as in the master.

    mp = Bf16Master(model)          # mp.compute: the bf16 copy
    loss_fn(mp.compute).backward(); mp.accumulate_grads(); optimizer.step(); mp.sync()
"""

from __future__ import annotations

import copy

import torch


def native_bf16(device: str = "cpu") -> bool:
    """Does `device` compute bfloat16 natively (CUDA with bf16 support; a CPU with AVX512-BF16 or AMX tiles)?"""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    cpu = getattr(torch, "cpu", None)
    return bool(cpu is not None and (getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                                     or getattr(cpu, "_is_amx_tile_supported", lambda: False)()))


def resolve_precision(mode: str, device: str, launched: bool) -> tuple[str, str | None]:
    """(the mixed_precision a run uses, a warning or None). `auto` -> bf16_master (bf16 when `launched` by
    accelerate, where bf16_master is refused) on native-bf16 hardware, else no; an explicit bf16 mode on a
    device without native bf16 is kept, with a warning."""
    native = native_bf16(device)
    if mode == "auto":
        return ("bf16" if launched else "bf16_master") if native else "no", None
    if mode in ("bf16", "bf16_master") and not native:
        return mode, (f"mixed_precision: {mode} on a {device} without native bfloat16 (no AVX512-BF16/AMX): bf16 "
                      "matmuls are emulated and far slower than float32 here; set mixed_precision: auto or no")
    return mode, None


def bf16_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A bfloat16 deep copy of `model` whose float buffers keep their dtype (RoPE frequencies).

    Each floating parameter is cast straight into the copy (deepcopy's memo), so no float32 duplicate of
    the model is ever made: `deepcopy(model).to(bfloat16)` briefly held one (+0.5 GB for a 135M model, which
    the process keeps as its peak)."""
    memo: dict[int, object] = {}
    for p in model.parameters():
        if id(p) not in memo:  # (tied weights: one parameter, one copy)
            data = p.detach().to(torch.bfloat16) if p.is_floating_point() else p.detach().clone()
            memo[id(p)] = torch.nn.Parameter(data, requires_grad=p.requires_grad)
    for b in model.buffers():
        memo.setdefault(id(b), b.detach().clone())
    return copy.deepcopy(model, memo)


class Bf16Master:
    """A float32 master model and its bf16 compute copy, parameters paired by name."""

    def __init__(self, master: torch.nn.Module):
        self.master = master
        self.compute = bf16_copy(master)
        comp = dict(self.compute.named_parameters())
        self.pairs = [(p, comp[name]) for name, p in master.named_parameters()]
        for pm, pc in self.pairs:
            pc.requires_grad_(pm.requires_grad)

    def accumulate_grads(self) -> None:
        """Add the compute copy's gradients into the master's float32 `.grad`s and clear them."""
        for pm, pc in self.pairs:
            if pc.grad is None:
                continue
            if pm.grad is None:
                pm.grad = pc.grad.to(pm.dtype)
            else:
                pm.grad.add_(pc.grad)
            pc.grad = None

    @torch.no_grad()
    def sync(self) -> None:
        """Refresh the compute copy from the master (after an optimizer step or a resume)."""
        for pm, pc in self.pairs:
            pc.copy_(pm)
