"""Token log-probs through the output projection without keeping (or re-deriving through autograd) the logits.

`linear_logprob(x, weight, targets)` returns log softmax(x W^T)[target] and the entropy of that softmax for
each row of x, like `log_softmax(linear(x, W)).gather(targets)`, but as one autograd function:

- forward: logits (N, V) in float32, their logsumexp, the target logit; the logits are dropped;
- backward: the logits are recomputed once and d logp / d logits = onehot(target) - softmax is formed in
  place, then d x = g W and (only if W is trainable) d W = g^T x.

Against `checkpoint(log_softmax + gather)` this saves the (N, V) log-softmax tensor, its backward and the
(N, V) zero-filled scatter of gather's backward: about a third of the head's time on a CPU. Under autocast
the two matmuls run in the autocast dtype (as `F.linear` would) and the softmax in float32. Entropy is a
metric here: it is returned without a gradient.

    logp, ent = linear_logprob(hidden.reshape(-1, H), head.weight, targets.reshape(-1), with_entropy=True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


class _LinearLogProb(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, targets, with_entropy: bool, dtype: torch.dtype):
        # x (N, H), weight (V, H), targets (N,) long
        with torch.autocast(x.device.type, enabled=False):
            logits = F.linear(x.to(dtype), weight.to(dtype)).float()  # (N, V)
        lse = torch.logsumexp(logits, dim=-1)  # (N,)
        logp = logits.gather(-1, targets[:, None]).squeeze(-1) - lse  # (N,)
        if with_entropy:
            probs = torch.exp(logits - lse[:, None])  # (N, V)
            ent = lse - (probs * logits).sum(dim=-1)  # (N,)
        else:
            ent = torch.zeros_like(logp)
        ctx.save_for_backward(x, weight, targets, lse)
        ctx.dtype = dtype
        ctx.mark_non_differentiable(ent)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, _g_ent):
        x, weight, targets, lse = ctx.saved_tensors
        dt = ctx.dtype
        with torch.autocast(x.device.type, enabled=False):
            xd, wd = x.to(dt), weight.to(dt)
            grad = F.linear(xd, wd).float()  # (N, V) logits again
            grad.sub_(lse[:, None]).exp_().mul_(-g_logp[:, None])  # -g * softmax
            grad.scatter_add_(-1, targets[:, None], g_logp[:, None].float())  # + g * onehot(target)
            grad = grad.to(dt)
            gx = (grad @ wd).to(x.dtype) if ctx.needs_input_grad[0] else None  # (N, H)
            gw = (grad.t() @ xd).to(weight.dtype) if ctx.needs_input_grad[1] else None  # (V, H)
        return gx, gw, None, None, None


def linear_logprob(x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                   with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, H), weight (V, H), targets (N,) -> (log-prob of each target (N,), entropy (N,) or zeros)."""
    return _LinearLogProb.apply(x, weight, targets, with_entropy, _compute_dtype(x))
