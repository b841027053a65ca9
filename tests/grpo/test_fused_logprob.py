"""The fused output-projection log-prob equals log_softmax(x W^T).gather(targets): values, entropy, gradients."""

import pytest
import torch

from pipeline.grpo.fused_logprob import linear_logprob

CASES = [  # (id, W trainable, autocast bf16)
    ("frozen_head_fp32", False, False),
    ("trainable_head_fp32", True, False),
    ("trainable_head_bf16_autocast", True, True),
]


def run_both(x, w, t, bf16: bool, loss, entropy_grad: bool = False) -> list[tuple]:
    """(logp, entropy, x.grad, w.grad) for the fused function and the log_softmax reference, in that order;
    `loss(lp, ent)` is what is backpropagated."""
    outs = []
    for fused in (True, False):
        x.grad = None
        w.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if fused:
                lp, ent = linear_logprob(x, w, t, with_entropy=True, entropy_grad=entropy_grad)
            else:
                ls = torch.log_softmax(torch.nn.functional.linear(x, w).float(), -1)
                lp, ent = ls.gather(-1, t[:, None]).squeeze(-1), -(ls.exp() * ls).sum(-1)
        assert not fused or ent.requires_grad == entropy_grad
        loss(lp, ent).backward()
        outs.append((lp.detach(), ent.detach(), x.grad.clone(), None if w.grad is None else w.grad.clone()))
    return outs


@pytest.mark.parametrize("train_w,bf16", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_reference(train_w, bf16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 16, generator=g, requires_grad=True)
    w = torch.randn(50, 16, generator=g, requires_grad=train_w)
    t = torch.randint(0, 50, (12,), generator=g)
    coef = torch.randn(12, generator=g)  # an arbitrary upstream gradient
    tol = dict(atol=5e-2, rtol=5e-2) if bf16 else dict(atol=1e-5, rtol=1e-5)
    (lp_f, ent_f, gx_f, gw_f), (lp_r, ent_r, gx_r, gw_r) = run_both(x, w, t, bf16, lambda lp, ent: (lp * coef).sum())
    assert torch.allclose(lp_f, lp_r, **tol) and torch.allclose(ent_f, ent_r, **tol)
    assert torch.allclose(gx_f, gx_r, **tol)
    assert (gw_f is None) == (not train_w) and (gw_f is None or torch.allclose(gw_f, gw_r, **tol))
    assert float(lp_f.max()) <= 0.0


@pytest.mark.parametrize("train_w,bf16", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_entropy_gradient_matches_reference(train_w, bf16):
    """entropy_grad: d(sum(c1 * logp + c2 * H)) / d(x, W) equals autograd's through log_softmax."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(70, 16, generator=g, requires_grad=True)  # > ROWS rows: more than one block
    w = torch.randn(50, 16, generator=g, requires_grad=train_w)
    t = torch.randint(0, 50, (70,), generator=g)
    c1, c2 = torch.randn(70, generator=g), torch.randn(70, generator=g)
    tol = dict(atol=5e-2, rtol=5e-2) if bf16 else dict(atol=1e-5, rtol=1e-5)
    (_, _, gx_f, gw_f), (_, _, gx_r, gw_r) = run_both(x, w, t, bf16, lambda lp, ent: (lp * c1 + ent * c2).sum(),
                                                      entropy_grad=True)
    assert torch.allclose(gx_f, gx_r, **tol)
    assert gw_f is None or torch.allclose(gw_f, gw_r, **tol)
    # the entropy alone (no log-prob term) also has its gradient
    x.grad = None
    _, ent = linear_logprob(x, w.detach(), t, with_entropy=True, entropy_grad=True)
    ent.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
