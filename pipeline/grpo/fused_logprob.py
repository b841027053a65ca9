"""Token log-probs through the output projection without keeping (or re-deriving through autograd) the logits.

`linear_logprob(x, weight, targets)` returns log softmax(x W^T)[target] and the entropy of that softmax for
each row of x, like `log_softmax(linear(x, W)).gather(targets)`, but as one autograd function:

- forward: one (N, V) logits matmul in the compute dtype; then, `rows` rows at a time (a block that stays in
  cache), the float32 logsumexp, target logit and entropy; the logits are dropped;
- backward: the logits are recomputed once; block by block d logp / d logits = onehot(target) - softmax is
  formed in float32 and written back over the logits buffer (compute dtype), then d x = g W and (only if W is
  trainable) d W = g^T x as two whole matmuls.

Against `checkpoint(log_softmax + gather)` this saves the (N, V) log-softmax tensor, its backward and the
(N, V) zero-filled scatter of gather's backward; the blocking keeps the float32 softmax passes in cache
instead of streaming several (N, V) float32 tensors through memory (on a 2-core CPU the head's elementwise
work fell from about 2x to about 0.3x its matmul time). Under autocast the matmuls run in the autocast dtype
(as `F.linear` would) and the softmax in float32. Entropy H = -sum_v p_v log p_v is a metric (no gradient) unless
`entropy_grad` (an entropy bonus in the loss): then backward adds d H / d z_v = -p_v (log p_v + H) to each block.

    logp, ent = linear_logprob(hidden.reshape(-1, H), head.weight, targets.reshape(-1), with_entropy=True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ROWS = 64  # rows per float32 block: 64 x 49152 x 4 B = 12.6 MB for a 49k vocabulary


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


class _LinearLogProb(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, targets, with_entropy: bool, dtype: torch.dtype, entropy_grad: bool):
        # x (N, H), weight (V, H), targets (N,) long
        with torch.autocast(x.device.type, enabled=False):
            logits = F.linear(x.to(dtype), weight.to(dtype))  # (N, V) compute dtype
        N = x.shape[0]
        lse = logits.new_empty(N, dtype=torch.float32)  # (N,)
        logp = torch.empty_like(lse)  # (N,)
        ent = torch.zeros_like(lse)  # (N,)
        for s in range(0, N, ROWS):
            block = logits[s:s + ROWS].float()  # (r, V)
            lse_b = torch.logsumexp(block, dim=-1)  # (r,)
            lse[s:s + ROWS] = lse_b
            logp[s:s + ROWS] = block.gather(-1, targets[s:s + ROWS, None]).squeeze(-1) - lse_b
            if with_entropy:
                block.sub_(lse_b[:, None])  # log-softmax
                ent[s:s + ROWS] = -(block.exp() * block).sum(dim=-1)
        ctx.save_for_backward(x, weight, targets, lse, ent)
        ctx.dtype = dtype
        if not (with_entropy and entropy_grad):
            ctx.mark_non_differentiable(ent)
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None (no work for it)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, g_ent):
        x, weight, targets, lse, ent = ctx.saved_tensors
        dt = ctx.dtype
        with torch.autocast(x.device.type, enabled=False):
            xd, wd = x.to(dt), weight.to(dt)
            grad = F.linear(xd, wd)  # (N, V) logits again, overwritten block by block with d loss / d logits
            g = g_logp.float() if g_logp is not None else lse.new_zeros(lse.shape)  # (N,)
            for s in range(0, grad.shape[0], ROWS):
                block = grad[s:s + ROWS].float().sub_(lse[s:s + ROWS, None])  # (r, V) log-softmax
                if g_ent is None:
                    block.exp_().mul_(-g[s:s + ROWS, None])  # -g * softmax
                else:  # -p * (g + g_ent * (log p + H)): d logp / dz = onehot - p, d H / dz = -p (log p + H)
                    coef = block.add(ent[s:s + ROWS, None]).mul_(g_ent[s:s + ROWS, None].float())
                    block.exp_().mul_(coef.add_(g[s:s + ROWS, None])).neg_()
                block.scatter_add_(-1, targets[s:s + ROWS, None], g[s:s + ROWS, None])  # + g * onehot(target)
                grad[s:s + ROWS] = block
            gx = (grad @ wd).to(x.dtype) if ctx.needs_input_grad[0] else None  # (N, H)
            gw = (grad.t() @ xd).to(weight.dtype) if ctx.needs_input_grad[1] else None  # (V, H)
        return gx, gw, None, None, None, None


def linear_logprob(x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, with_entropy: bool = False,
                   entropy_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, H), weight (V, H), targets (N,) -> (log-prob of each target (N,), entropy (N,) or zeros);
    entropy_grad: the entropy carries a gradient (for an entropy bonus), else it is a metric."""
    return _LinearLogProb.apply(x, weight, targets, with_entropy, _compute_dtype(x), entropy_grad)
