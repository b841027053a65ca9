"""Policy loss, clipping, aggregation and KL estimators against hand-computed values."""

import math

import pytest
import torch

from pipeline.grpo.loss import aggregate, entropy_from_logits, kl_estimate, policy_loss, sft_loss

L15 = math.log(1.5)
L05 = math.log(0.5)

# (id, logp - old_logp, advantage, eps_low, eps_high, expected per-token loss, clip_low, clip_high)
CLIP_CASES = [
    ("ratio_one_positive_adv", 0.0, 1.0, 0.2, 0.28, -1.0, 0.0, 0.0),
    ("clip_higher_caps_gain", L15, 1.0, 0.2, 0.28, -1.28, 0.0, 1.0),
    ("symmetric_clip_caps_gain", L15, 1.0, 0.2, 0.2, -1.2, 0.0, 1.0),
    ("clip_low_caps_negative", L05, -1.0, 0.2, 0.28, 0.8, 1.0, 0.0),
    ("pessimistic_unclipped_for_negative_adv", L15, -1.0, 0.2, 0.28, 1.5, 0.0, 0.0),
    ("small_ratio_positive_adv_unclipped", L05, 2.0, 0.2, 0.28, -1.0, 0.0, 0.0),
]


@pytest.mark.parametrize("delta,adv,lo,hi,expected,clip_lo,clip_hi", [c[1:] for c in CLIP_CASES],
                         ids=[c[0] for c in CLIP_CASES])
def test_ppo_clip(delta, adv, lo, hi, expected, clip_lo, clip_hi):
    old = torch.zeros(1, 2)
    logp = old + delta
    out = policy_loss(logp, old, torch.tensor([adv]), torch.ones(1, 2), eps_low=lo, eps_high=hi)
    assert out.loss.item() == pytest.approx(expected, abs=1e-6)
    assert out.clip_low_frac.item() == clip_lo and out.clip_high_frac.item() == clip_hi


AGG_CASES = [
    ("token_mean", "token_mean", None, 2.5),
    ("seq_mean_token_mean", "seq_mean_token_mean", None, 3.0),
    ("drgrpo_constant", "constant", 5, 1.0),
]


@pytest.mark.parametrize("mode,max_new,expected", [c[1:] for c in AGG_CASES], ids=[c[0] for c in AGG_CASES])
def test_aggregation(mode, max_new, expected):
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(per_token, mask, mode, max_new).item() == pytest.approx(expected)


@pytest.mark.parametrize("mode", ["token_mean", "seq_mean_token_mean", "constant"])
def test_accumulation_with_global_denominator_matches_full_batch(mode):
    torch.manual_seed(0)
    per_token = torch.randn(4, 5)
    mask = (torch.rand(4, 5) > 0.3).float()
    mask[:, 0] = 1
    full = aggregate(per_token, mask, mode, 5)
    den = {"token_mean": mask.sum().item(), "seq_mean_token_mean": 4.0, "constant": 4.0}[mode]
    parts = sum(aggregate(per_token[i:i + 2], mask[i:i + 2], mode, 5, denominator=den) for i in (0, 2))
    assert parts.item() == pytest.approx(full.item(), rel=1e-6)


KL_CASES = [
    ("k1", "k1", -math.log(2)),
    ("k2", "k2", 0.5 * math.log(2) ** 2),
    ("k3", "k3", 2 - math.log(2) - 1),
]


@pytest.mark.parametrize("est,expected", [c[1:] for c in KL_CASES], ids=[c[0] for c in KL_CASES])
def test_kl_estimators(est, expected):
    got = kl_estimate(torch.zeros(1, 1), torch.full((1, 1), math.log(2)), est)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_beta_adds_kl_and_needs_reference():
    logp = torch.zeros(1, 2)
    ref = torch.full((1, 2), math.log(2))
    out = policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 2), beta=0.1, ref_logp=ref)
    assert out.loss.item() == pytest.approx(0.1 * (1 - math.log(2)), rel=1e-6)
    assert out.kl.item() == pytest.approx(1 - math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 2), beta=0.1)


def test_gradient_is_policy_gradient_at_ratio_one():
    logp = torch.zeros(1, 3, requires_grad=True)
    out = policy_loss(logp, logp.detach(), torch.tensor([2.0]), torch.tensor([[1.0, 1.0, 0.0]]))
    out.loss.backward()
    assert logp.grad.tolist() == [[-1.0, -1.0, 0.0]]  # -A / n_tokens, zero on padding


def test_per_token_advantages_accepted():
    logp = torch.zeros(1, 2)
    out = policy_loss(logp, logp, torch.tensor([[1.0, -3.0]]), torch.ones(1, 2))
    assert out.loss.item() == pytest.approx(1.0)


def test_entropy_uniform_and_sft():
    assert entropy_from_logits(torch.zeros(1, 1, 4)).item() == pytest.approx(math.log(4))
    assert sft_loss(torch.tensor([[-1.0, -3.0, -9.0]]), torch.tensor([[1.0, 1.0, 0.0]])).item() == pytest.approx(2.0)


# -- bounds on runaway ratios (verl's dual-clip, log-ratio and k3 clamps) and truncated importance sampling


def test_dual_clip_bounds_a_runaway_ratio_with_negative_advantage():
    # two tokens, log-ratios 5 and 0, advantage -1: unbounded (e^5 + 1) / 2 = 74.7; dual-clip (3 + 1) / 2 = 2.0
    old, logp = torch.zeros(1, 2), torch.tensor([[5.0, 0.0]], requires_grad=True)
    mask, adv = torch.ones(1, 2), torch.tensor([-1.0])
    unbounded = policy_loss(logp, old, adv, mask, 0.2, 0.28, clip_ratio_c=None)
    assert unbounded.loss.item() == pytest.approx((math.exp(5) + 1) / 2, rel=1e-6)  # 74.7
    out = policy_loss(logp, old, adv, mask, 0.2, 0.28, clip_ratio_c=3.0)
    assert out.loss.item() == pytest.approx(2.0)
    assert out.dual_clip_frac.item() == 0.5
    out.loss.backward()
    assert logp.grad[0, 0].item() == 0.0 and logp.grad[0, 1].item() == pytest.approx(0.5)  # held token: no gradient


def test_dual_clip_leaves_positive_advantages_and_moderate_ratios_alone():
    old, mask = torch.zeros(1, 2), torch.ones(1, 2)
    logp = torch.tensor([[5.0, math.log(2.0)]])
    pos = policy_loss(logp, old, torch.tensor([1.0]), mask, 0.2, 0.28, clip_ratio_c=3.0)
    assert pos.loss.item() == pytest.approx(-1.28) and pos.dual_clip_frac.item() == 0.0  # ordinary clip
    neg = policy_loss(torch.tensor([[math.log(2.0)] * 2]), old, torch.tensor([-1.0]), mask, 0.2, 0.28, clip_ratio_c=3.0)
    assert neg.loss.item() == pytest.approx(2.0) and neg.dual_clip_frac.item() == 0.0  # ratio 2 < 3: untouched


def test_log_ratio_and_k3_are_clamped_so_nothing_overflows():
    old, mask = torch.zeros(1, 1), torch.ones(1, 1)
    out = policy_loss(torch.tensor([[200.0]]), old, torch.tensor([-1.0]), mask, clip_ratio_c=None)
    assert out.loss.item() == pytest.approx(math.exp(20.0), rel=1e-5)  # exp(200) would be inf
    k3 = kl_estimate(torch.tensor([[-200.0, 0.5]]), torch.tensor([[0.0, 0.0]]), "k3")
    assert k3[0, 0].item() == 10.0  # clamped (unclamped: exp(200) - 201)
    assert k3[0, 1].item() == pytest.approx(math.exp(-0.5) + 0.5 - 1.0)  # ordinary values unchanged


def test_tis_weights_truncate_and_scale_the_policy_term():
    from pipeline.grpo.loss import tis_weights

    old = torch.tensor([[-1.0, -1.0, -1.0]])
    rollout = torch.tensor([[-1.0, -1.0 + math.log(2.0), -4.0]])  # sampler agreed, sampler 2x likelier, sampler 20x less likely
    w = tis_weights(old, rollout, cap=2.0)
    assert w[0].tolist() == pytest.approx([1.0, 0.5, 2.0])
    mask = torch.ones(1, 3)
    plain = policy_loss(old, old, torch.tensor([1.0]), mask)
    weighted = policy_loss(old, old, torch.tensor([1.0]), mask, is_weight=w)
    assert plain.loss.item() == pytest.approx(-1.0)
    assert weighted.loss.item() == pytest.approx(-(1.0 + 0.5 + 2.0) / 3)


def test_tis_weight_of_an_unsampled_token_is_one():
    from pipeline.grpo.loss import tis_weights

    old = torch.tensor([[-1.0, -3.0]])
    rollout = torch.tensor([[float("nan"), -6.0]])  # a guided demonstration's token (nobody sampled it), a capped one
    assert tis_weights(old, rollout, cap=2.0)[0].tolist() == [1.0, 2.0]


def test_entropy_bonus_is_subtracted_as_aggregated_and_needs_entropy():
    lp = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    ent = torch.tensor([[1.0, 2.0, 9.0], [3.0, 4.0, 5.0]])  # the masked 9 never counts
    adv = torch.zeros(2)  # no policy term: the loss is the bonus alone
    out = policy_loss(lp, lp, adv, mask, entropy=ent, entropy_coef=0.1)
    assert float(out.loss) == pytest.approx(-0.1 * (1 + 2 + 3 + 4 + 5) / 5)  # token_mean
    out = policy_loss(lp, lp, adv, mask, entropy=ent, entropy_coef=0.1, loss_agg="seq_mean_token_mean")
    assert float(out.loss) == pytest.approx(-0.1 * (1.5 + 4.0) / 2)
    assert float(policy_loss(lp, lp, adv, mask, entropy=ent, entropy_coef=0.0).loss) == 0.0  # off: a metric only
    with pytest.raises(ValueError, match="entropy"):
        policy_loss(lp, lp, adv, mask, entropy_coef=0.1)
