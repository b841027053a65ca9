"""Memory-lean autograd for the update's forward pass on Llama-family decoders (`lean_update`).

Why: on a CPU the update's peak memory is the activations autograd keeps for the backward pass, about 1 MB per
token for SmolLM2-135M in bf16 (30 layers). transformers' modules keep more than the backward needs:
- RMSNorm keeps its input upcast to float32 and the normalised bf16 copy (3.5 KB a token and layer at H = 576);
- the SwiGLU MLP keeps gate, SiLU(gate), up and their product (4 x 3 KB at F = 1536);
- eager attention keeps the GQA-expanded keys and values and the attention probabilities twice, float32 and
  bf16 (54 bytes per head-free key column: 7.6 KB a token and layer at 141 keys, growing with the length).
Here each keeps only its inputs and recomputes the rest in backward,
the way FlashAttention and fused SwiGLU/RMSNorm kernels do: about 13 KB instead of 32 KB a token and layer.
The recomputation is elementwise work plus one (q k^T) matmul per layer, small beside the projections.

The forward arithmetic is the model's own, dtype for dtype (RMSNorm in float32, softmax in float32 over
bf16 scores, SiLU as torch computes it), so outputs are identical; gradients agree to rounding (tests compare
both against the model's modules on tiny random models of each supported family).

Scope: models the native rollout path supports (`pipeline.rollout.native.unsupported_reason`), swapped in for
the update only and restored after. Not under DeepSpeed/accelerate: ZeRO-3 gathers a module's weights in its
forward hooks, and the fused MLP reads `down_proj.weight` without calling the module.

    with lean_forward(model):   # "lean" attention, lean norms and MLPs; no-op (False) when unsupported
        loss(model).backward()
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

ATTN_NAME = "rlvr_lean"


class _RMSNorm(torch.autograd.Function):
    """w * (x * rsqrt(mean(x^2) + eps)).to(x.dtype), x in float32; keeps x (its dtype) and rstd (one float a row)."""

    @staticmethod
    def forward(ctx, x, w, eps: float):
        xf = x.float()
        rstd = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)  # (..., 1)
        ctx.save_for_backward(x, w, rstd)
        return w * (xf * rstd).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, w, rstd = ctx.saved_tensors
        xn = x.float() * rstd  # (..., H) the normalised input, float32
        gw = None
        if ctx.needs_input_grad[1]:
            gw = (g.float() * xn.to(x.dtype).float()).reshape(-1, xn.shape[-1]).sum(0).to(w.dtype)
        gx = None
        if ctx.needs_input_grad[0]:
            gn = (g * w).float()  # (..., H) gradient at the normalised input
            gx = (rstd * (gn - xn * (gn * xn).mean(-1, keepdim=True))).to(x.dtype)
        return gx, gw, None


class _SwiGLUDown(torch.autograd.Function):
    """down(SiLU(gate) * up); keeps gate and up, recomputes their product for the down projection's gradient."""

    @staticmethod
    def forward(ctx, gate, up, w_down):
        ctx.save_for_backward(gate, up, w_down)
        return F.linear(F.silu(gate) * up, w_down)

    @staticmethod
    def backward(ctx, g):
        gate, up, w_down = ctx.saved_tensors
        gf = gate.float()
        sig = torch.sigmoid(gf)
        silu = (gf * sig).to(gate.dtype)
        gw = None
        if ctx.needs_input_grad[2]:
            y = silu * up  # (..., F) recomputed
            gw = g.reshape(-1, g.shape[-1]).t().mm(y.reshape(-1, y.shape[-1]))
        gy = g.matmul(w_down.to(g.dtype))  # (..., F) (under autocast the forward ran in bf16 over float32 weights)
        g_up = gy * silu
        g_gate = (gy.float() * up.float() * sig * (1 + gf * (1 - sig))).to(gate.dtype)
        return g_gate, g_up, gw


class _Attention(torch.autograd.Function):
    """softmax(q k^T * scale + mask) v with grouped-query heads; keeps q, k and v, recomputes the probabilities.

    q (B, Hq, L, D); k, v (B, Hk, S, D); mask (B, 1, L, S) additive or None. Returns (B, Hq, L, D)."""

    @staticmethod
    def _probs(q, k, mask, scaling):
        """float32 probabilities (B, Hk, g L, S), computed as eager attention computes them."""
        B, Hq, L, D = q.shape
        Hk, S = k.shape[1], k.shape[2]
        g = Hq // Hk
        qg = q.reshape(B, Hk, g * L, D)  # query heads grouped by their KV head (no expanded K/V)
        scores = torch.matmul(qg, k.transpose(-1, -2)) * scaling  # (B, Hk, g L, S), the model's dtype
        if mask is not None:
            scores = (scores.view(B, Hk, g, L, S) + mask[:, :, None]).view(B, Hk, g * L, S)
        return torch.softmax(scores, dim=-1, dtype=torch.float32)

    @staticmethod
    def forward(ctx, q, k, v, mask, scaling: float):
        B, Hq, L, D = q.shape
        p = _Attention._probs(q, k, mask, scaling)
        out = torch.matmul(p.to(q.dtype), v)  # (B, Hk, g L, D)
        ctx.save_for_backward(q, k, v, mask)
        ctx.scaling = scaling
        return out.view(B, Hq, L, D)

    @staticmethod
    def backward(ctx, g_out):
        q, k, v, mask = ctx.saved_tensors
        B, Hq, L, D = q.shape
        Hk = k.shape[1]
        p = _Attention._probs(q, k, mask, ctx.scaling)  # (B, Hk, g L, S) float32, recomputed
        go = g_out.reshape(B, Hk, -1, D)  # (B, Hk, g L, D)
        gv = torch.matmul(p.to(q.dtype).transpose(-1, -2), go)  # (B, Hk, S, D)
        gp = torch.matmul(go, v.transpose(-1, -2)).float()  # (B, Hk, g L, S)
        gs = (p * (gp - (gp * p).sum(-1, keepdim=True))).to(q.dtype) * ctx.scaling  # softmax backward
        gq = torch.matmul(gs, k).view(B, Hq, L, D)
        gk = torch.matmul(gs.transpose(-1, -2), q.reshape(B, Hk, -1, D))  # (B, Hk, S, D)
        return gq, gk, gv, None, None


def lean_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **kwargs):
    """transformers attention interface: (B, L, Hq, D) output, no attention weights returned."""
    if dropout:
        raise ValueError("lean attention has no dropout (the update runs without it)")
    mask = None if attention_mask is None else attention_mask[:, :, :, : key.shape[-2]]
    dev = query.device.type  # under autocast RoPE leaves q, k in float32 and v in bf16: one dtype for the backward
    dt = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else value.dtype
    query, key, value = query.to(dt), key.to(dt), value.to(dt)
    out = _Attention.apply(query, key, value, mask, float(scaling))
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(ATTN_NAME, lean_attention)
    AttentionMaskInterface.register(ATTN_NAME, ALL_MASK_ATTENTION_FUNCTIONS["eager"])  # additive float masks


def lean_norm_forward(norm):
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    return lambda x: _RMSNorm.apply(x, norm.weight, eps)


def lean_mlp_forward(mlp):
    return lambda x: _SwiGLUDown.apply(mlp.gate_proj(x), mlp.up_proj(x), mlp.down_proj.weight)


def unsupported(model) -> str | None:
    """Why the lean path cannot run on `model` (None: it can)."""
    from pipeline.rollout.native import unsupported_reason

    reason = unsupported_reason(model)
    if reason is None and any(type(layer.mlp.down_proj).__name__ != "Linear" for layer in model.model.layers):
        reason = "MLP projections are not plain nn.Linear"
    return reason


@contextlib.contextmanager
def lean_forward(model, attention: bool = True, modules: bool = True):
    """Swap in the lean norms and MLPs (if `modules`) and the lean attention (if `attention`); yields whether it
    did (False: an unsupported model, left as it is)."""
    if unsupported(model) is not None:
        yield False
        return
    norms, mlps = [], []
    if modules:
        norms = [model.model.norm] + [n for layer in model.model.layers
                                      for n in (layer.input_layernorm, layer.post_attention_layernorm,
                                                getattr(layer.self_attn, "q_norm", None),
                                                getattr(layer.self_attn, "k_norm", None)) if n is not None]
        mlps = [layer.mlp for layer in model.model.layers]
    for n in norms:
        n.forward = lean_norm_forward(n)
    for m in mlps:
        m.forward = lean_mlp_forward(m)
    impl = model.config._attn_implementation
    if attention:
        _register()
        model.set_attn_implementation(ATTN_NAME)
    try:
        yield True
    finally:
        for mod in norms + mlps:
            del mod.forward  # back to the class's forward
        if attention:
            model.set_attn_implementation(impl)
