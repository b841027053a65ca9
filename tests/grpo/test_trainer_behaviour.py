"""What the trainer's variants do, step by step on the tiny model, with a fake scorer whose rewards the test
chooses per completion (so each property is forced, not hoped for): dynamic sampling refills flat groups and
trains on the refills; mu = 2 makes the second epoch off-policy and clips; the reference model is used only
when beta > 0; process-reward credit lands on the first false step's tokens only; best-of-N trains only on each
group's best completion with reward > 0; per-member temperatures reach the sampler."""

from __future__ import annotations

import collections
import copy
import dataclasses

import pytest
import torch

from pipeline.grpo import update as update_mod
from rewards.scorer import Scores  # the real record the fake scorer below returns

G = 4




class FakeScorer:
    """Stands in for rewards.scorer.Scorer: returns a `Scores`-shaped record, with the reward of each
    completion given by `reward(call, group, member, text)` (call = how many score() calls came before: 0 is
    the step's first round, 1.. dynamic sampling's refill rounds) and, optionally, the character span of its
    first false step by `first_false(call, group, member, text)` (a "process" objective)."""

    def __init__(self, reward, first_false=None):
        self.reward, self.first_false = reward, first_false
        self.calls: list[list[str]] = []  # the texts scored by each call

    def score(self, rows, texts, lengths=None) -> Scores:  # (lengths: token counts, unused here)
        assert len(rows) == len(texts) and len(texts) % G == 0, "the trainer scores whole groups"
        call = len(self.calls)
        self.calls.append(list(texts))
        keys = [(call, i // G, i % G, t) for i, t in enumerate(texts)]
        reward = [None if r is None else float(r) for r in (self.reward(*k) for k in keys)]  # verifiers give floats
        per_objective = {"fake": list(reward)}
        reasons = {"fake": ["skipped" if r is None else "ok" if r >= 1.0 else "wrong" for r in reward]}
        correct = [r is not None and r >= 1.0 for r in reward]
        first_false = []
        if self.first_false is not None:
            per_objective["process"] = [0.0] * len(texts)
            reasons["process"] = ["ok"] * len(texts)
            first_false = [self.first_false(*k) for k in keys]
        results = {name: [None] * len(texts) for name in per_objective}  # (raw VerifyResults: none here)
        return Scores(reward, per_objective, reasons, correct, results, first_false)

    def close(self) -> None:
        pass


def by_member(*tables):
    """reward(call, group, member, text) from per-call tables: tables[call][group][member]."""
    return lambda call, g, j, text: tables[call][g][j]


def make_trainer(tiny_model_dir, tmp_path, scorer, ref_model=None, rows=None, **changes):
    """A GRPOTrainer on the tiny model over `rows` (default: four toy addition problems)."""
    from data.curriculum import Curriculum, CurriculumConfig
    from data.schema import Row
    from pipeline.grpo.config import TrainConfig
    from pipeline.grpo.trainer import GRPOTrainer
    from pipeline.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(tiny_model_dir))
    opts = dict(model=str(tiny_model_dir), prompts_per_step=2, group_size=G, max_new_tokens=8, lr=1e-3,
                total_steps=2, checkpoint_every=0, samples_every=0, temperature=1.0, advantage="drgrpo",
                dynamic_sampling=False, tis_cap=None, seed=0)
    opts.update(changes)
    cfg = TrainConfig(**opts)
    cfg.validate()
    rows = rows or [Row(f"r{i}", f"What is {i} + {i}?", "math", str(2 * i), "t") for i in range(4)]
    curriculum = Curriculum.from_dataset(rows, CurriculumConfig(bucket_by="none"))
    return GRPOTrainer(cfg, model, tok, curriculum, tmp_path, scorer=scorer, ref_model=ref_model)


class RecordingUpdate:
    """Wraps the trainer's update phase and records what each call trains on: samples, advantages, groups."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, flat, adv, groups, step):
        self.calls.append({"flat": list(flat), "adv": adv.clone(), "groups": [list(g) for g in groups]})
        return self.inner(flat, adv, groups, step)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def record_update(monkeypatch, trainer) -> list[dict]:
    rec = RecordingUpdate(trainer.update)
    monkeypatch.setattr(trainer, "update", rec)
    return rec.calls


def record_rollouts(monkeypatch, trainer) -> list[list[list]]:
    """Record the groups each `_rollout` call (one per sampling round) returned."""
    seen: list = []
    real = trainer._rollout

    def wrapped(rows, step, round_):
        out = real(rows, step, round_)
        seen.append(out)
        return out

    monkeypatch.setattr(trainer, "_rollout", wrapped)
    return seen


def record_losses(monkeypatch) -> list:
    """Record every `policy_loss` output (one per micro-batch, in order)."""
    seen: list = []
    real = update_mod.policy_loss

    def wrapped(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out)
        return out

    monkeypatch.setattr(update_mod, "policy_loss", wrapped)
    return seen


FLAT = [0.5] * G


# -- dynamic sampling ------------------------------------------------------------------------------
def test_dynamic_sampling_refills_flat_groups_and_trains_on_the_refills(tiny_model_dir, tmp_path, monkeypatch):
    # round 0: both groups flat; round 1 (both re-sampled): the first varies, the second is flat again;
    # round 2 (only the still-flat one re-sampled): it varies
    scorer = FakeScorer(by_member([FLAT, FLAT], [[1, 0, 0, 0], FLAT], [[0, 1, 1, 0]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, dynamic_sampling=True, max_refill_rounds=2)
    rounds, updates = record_rollouts(monkeypatch, trainer), record_update(monkeypatch, trainer)
    m = trainer.train_step(1)
    assert [len(texts) for texts in scorer.calls] == [2 * G, 2 * G, G]  # only flat groups are re-sampled
    assert m["refilled_groups"] == 2
    trained = updates[0]["groups"]
    assert [id(s) for s in trained[0]] == [id(s) for s in rounds[1][0]]  # round 1's first group
    assert [id(s) for s in trained[1]] == [id(s) for s in rounds[2][0]]  # round 2's group
    assert [[s.reward for s in g] for g in trained] == [[1, 0, 0, 0], [0, 1, 1, 0]]
    assert m["zero_variance_frac"] == 0.0 and m["active_frac"] == 1.0
    assert m["reward/mean"] == pytest.approx(0.5)  # the logged rewards describe the first round (the policy's own)


def test_dynamic_sampling_gives_up_after_max_refill_rounds(tiny_model_dir, tmp_path, monkeypatch):
    scorer = FakeScorer(by_member([[1, 0, 0, 0], FLAT], [FLAT], [FLAT], [[0, 1, 1, 0]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, dynamic_sampling=True, max_refill_rounds=2)
    rounds, updates = record_rollouts(monkeypatch, trainer), record_update(monkeypatch, trainer)
    m = trainer.train_step(1)
    assert [len(texts) for texts in scorer.calls] == [2 * G, G, G]  # two refill rounds, no third
    assert m["refilled_groups"] == 0
    assert [id(s) for s in updates[0]["groups"][1]] == [id(s) for s in rounds[0][1]]  # the flat group stays
    assert m["zero_variance_frac"] == 0.5 and m["active_frac"] == 0.5


def test_without_dynamic_sampling_flat_groups_are_kept(tiny_model_dir, tmp_path):
    scorer = FakeScorer(by_member([[1, 0, 0, 0], FLAT], [[0, 1, 1, 0]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, dynamic_sampling=False)
    m = trainer.train_step(1)
    assert len(scorer.calls) == 1 and m["refilled_groups"] == 0 and m["zero_variance_frac"] == 0.5


# -- mu > 1 ----------------------------------------------------------------------------------------
def test_second_epoch_is_off_policy_and_clips_at_a_large_lr(tiny_model_dir, tmp_path, monkeypatch):
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, mu=2, lr=5e-2, eps_low=0.2, eps_high=0.2)
    losses = record_losses(monkeypatch)
    m = trainer.train_step(1)
    assert len(losses) == 2 and m["optimizer_steps"] == 2  # one minibatch, two epochs
    first, second = losses
    assert float(first.ratio_mean) == pytest.approx(1.0, abs=1e-4)  # old log-probs = the policy before epoch 1
    assert float(first.clip_low_frac) == float(first.clip_high_frac) == 0.0
    assert abs(float(second.ratio_mean) - 1.0) > 0.05  # epoch 2 scores the same samples with moved weights
    assert float(second.clip_low_frac) + float(second.clip_high_frac) > 0  # and the PPO clip engages
    assert m["clip_low_frac"] + m["clip_high_frac"] > 0


# -- reference model -------------------------------------------------------------------------------
class PoisonedReference(torch.nn.Module):
    def forward(self, *args, **kwargs):
        raise AssertionError("the reference model was run with beta = 0")


def test_beta_zero_drops_the_reference(tiny_model_dir, tmp_path):
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, ref_model=PoisonedReference(), beta=0.0, mu=2)
    assert trainer.ref_model is None
    m = trainer.train_step(1)  # (would raise if the reference were run)
    assert m["kl"] == 0.0


def test_beta_uses_the_frozen_reference_and_kl_grows_after_an_update(tiny_model_dir, tmp_path):
    from pipeline.models import load_model_and_tokenizer

    ref, _ = load_model_and_tokenizer(str(tiny_model_dir))
    ref.requires_grad_(False).eval()
    ref_before = copy.deepcopy(ref.state_dict())
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]], [[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, ref_model=ref, beta=0.1, lr=1e-2)
    assert trainer.ref_model is ref
    m1 = trainer.train_step(1)
    assert m1["kl"] == pytest.approx(0.0, abs=1e-6)  # before any update the policy is the reference
    m2 = trainer.train_step(2)
    assert m2["kl"] > 1e-4  # after one update the policy has moved away from the reference
    assert all(torch.equal(v, ref_before[k]) for k, v in ref.state_dict().items())  # the reference stays frozen


# -- process-reward token credit -------------------------------------------------------------------
def _char_bounds(tok, ids):
    """[start, end) character range of each completion token in the decoded text."""
    ends = [len(tok.decode(ids[: k + 1], skip_special_tokens=True)) for k in range(len(ids))]
    return list(zip([0] + ends[:-1], ends))


def test_process_credit_lands_on_the_first_false_step_only(tiny_model_dir, tmp_path, monkeypatch):
    from pipeline.grpo.config import RewardSpec

    def first_false(call, g, j, text):  # members 0 and 3: the middle third of the text is the first false step
        n = len(text)
        return (n // 3, 2 * n // 3) if j in (0, 3) and n >= 6 else None

    rewards = [[1, 0, 0, 1], [0, 0, 1, 0]]
    scorer = FakeScorer(by_member(rewards), first_false)
    penalty = 0.5
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, process_penalty=penalty, max_new_tokens=16,
                           rewards=[RewardSpec(verifier="process", weight=0.0)])
    updates = record_update(monkeypatch, trainer)
    trainer.train_step(1)
    flat, adv = updates[0]["flat"], updates[0]["adv"]
    T = max(len(s.ids) for s in flat)
    assert adv.shape == (2 * G, T)  # per-token advantages
    seq = [r - sum(g) / G for g in rewards for r in g]  # drgrpo sequence advantages
    spans_hit = outside_hit = 0
    for b, s in enumerate(flat):
        row = adv[b]
        L = len(s.ids)
        assert torch.all(row[L:] == 0), "padding carries no advantage"
        if s.first_false is None:
            assert torch.allclose(row[:L], torch.full((L,), seq[b])), f"row {b} has no false step but was credited"
            continue
        c0, c1 = s.first_false
        for k, (a, z) in enumerate(_char_bounds(trainer.tok, s.ids)):
            inside = a < c1 and z > c0  # the token overlaps the false step's characters
            want = seq[b] - penalty if inside else seq[b]
            assert float(row[k]) == pytest.approx(want), (b, k, (a, z), (c0, c1))
            spans_hit += inside
            outside_hit += not inside
    assert spans_hit > 0 and outside_hit > 0, "the test forced no span with tokens both inside and outside it"


# -- best-of-N -------------------------------------------------------------------------------------
def test_best_of_n_trains_only_each_groups_best_positive_completion(tiny_model_dir, tmp_path, monkeypatch):
    from pipeline.grpo.batch import collate, completion_logprobs

    # group 0: member 2 is best (0.9 > 0); group 1: all 0 (no best > 0); group 2: all negative
    scorer = FakeScorer(by_member([[0.2, 0.5, 0.9, 0.0], [0.0] * G, [-1.0, -0.5, -1.0, -1.0]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, mode="best_of_n", prompts_per_step=3, lr=1e-2)
    before = copy.deepcopy(trainer.backend.compute)
    masks: list = []
    real = trainer.update._optimizer_step

    def step(batch, mb, active, *rest):
        masks.append((batch.completion_mask.clone(), active.clone()))
        return real(batch, mb, active, *rest)

    monkeypatch.setattr(trainer.update, "_optimizer_step", step)
    updates = record_update(monkeypatch, trainer)
    m = trainer.train_step(1)
    (mask, active), = masks
    assert (mask.sum(dim=1) > 0).nonzero().flatten().tolist() == [2]  # only group 0's best enters the loss
    assert active.nonzero().flatten().tolist() == [2]
    assert m["trained_frac"] == pytest.approx(1 / 12)
    best = updates[0]["flat"][2]

    def loglik(model):
        b = collate([best.prompt_ids], [best.ids], trainer.tok.pad_token_id)
        with torch.no_grad():
            lp, _ = completion_logprobs(model, b, best.temp)
        return float(lp.sum())

    assert loglik(trainer.backend.compute) > loglik(before)  # SFT raised the best completion's likelihood


# -- per-member temperatures -----------------------------------------------------------------------
def test_temperature_schedule_reaches_the_sampler(tiny_model_dir, tmp_path, monkeypatch):
    schedule = [0.5, 1.0, 1.0, 1.5]
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, temperature_schedule=schedule)
    calls: list = []
    real = trainer.engine.generate

    def generate(prompts, params):
        outs = real(prompts, params)
        calls.append((params.temperature, params.n, outs))
        return outs

    monkeypatch.setattr(trainer.engine, "generate", generate)
    updates = record_update(monkeypatch, trainer)
    trainer.train_step(1)
    assert sorted((t, n) for t, n, _ in calls) == [(0.5, 1), (1.0, 2), (1.5, 1)]  # one call per temperature
    by_temp = {t: outs for t, _, outs in calls}
    for i, group in enumerate(updates[0]["groups"]):
        assert [s.temp for s in group] == schedule
        for j, s in enumerate(group):  # member j's completion came from the call at its own temperature
            k = [m for m, t in enumerate(schedule) if t == schedule[j]].index(j)
            assert s.ids == list(by_temp[schedule[j]][i][k].token_ids)


def test_stop_strings_reach_the_sampler(tiny_model_dir, tmp_path, monkeypatch):
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, stop=["\n```\n"], temperature_schedule=[0.5, 1, 1, 1])
    seen: list = []
    real = trainer.engine.generate

    def generate(prompts, params):
        seen.append(list(params.stop))
        return real(prompts, params)

    monkeypatch.setattr(trainer.engine, "generate", generate)
    record_update(monkeypatch, trainer)
    trainer.train_step(1)
    assert seen == [["\n```\n"], ["\n```\n"]]  # every temperature's call ends completions at the fence


# -- overlong filtering ----------------------------------------------------------------------------
@pytest.mark.parametrize("overlong_filter", [True, False])
def test_overlong_filter_masks_only_truncated_completions(tiny_model_dir, tmp_path, monkeypatch, overlong_filter):
    scorer = FakeScorer(by_member([[1, 0, 1, 0], [0, 1, 0, 1]]))
    trainer = make_trainer(tiny_model_dir, tmp_path, scorer, overlong_filter=overlong_filter)
    real = trainer.engine.generate

    def generate(prompts, params):  # the random model never stops by itself: members 0 and 1 "stop" here
        outs = real(prompts, params)
        return [[dataclasses.replace(c, finish_reason="stop" if j < 2 else "length") for j, c in enumerate(comps)]
                for comps in outs]

    monkeypatch.setattr(trainer.engine, "generate", generate)
    masks: list = []
    real_step = trainer.update._optimizer_step

    def step(batch, mb, active, *rest):
        masks.append(batch.completion_mask.clone())
        return real_step(batch, mb, active, *rest)

    monkeypatch.setattr(trainer.update, "_optimizer_step", step)
    updates = record_update(monkeypatch, trainer)
    m = trainer.train_step(1)
    flat = updates[0]["flat"]
    rows_in_loss = (masks[0].sum(dim=1) > 0).tolist()
    if overlong_filter:
        assert rows_in_loss == [s.finish == "stop" for s in flat] == [True, True, False, False] * 2
        assert m["trained_frac"] == 0.5 and m["truncation_rate"] == 0.5
    else:
        assert all(rows_in_loss) and m["trained_frac"] == 1.0


# -- entropy bonus ---------------------------------------------------------------------------------
def test_entropy_bonus_trains_flat_groups_towards_higher_entropy(tiny_model_dir, tmp_path, monkeypatch):
    """Every group flat: no policy gradient. Without the bonus nothing trains; with entropy_coef the rows still
    train and the step raises the policy's entropy on the very completions it trained on."""
    from pipeline.grpo.batch import collate, completion_logprobs

    def entropy_of(trainer, flat) -> float:
        batch = collate([s.prompt_ids for s in flat], [s.ids for s in flat], trainer.tok.pad_token_id)
        with torch.no_grad():
            _, ent = completion_logprobs(trainer.backend.compute, batch, 1.0, with_entropy=True)
        m = batch.completion_mask
        return float((ent * m).sum() / m.sum())

    for coef in (0.0, 1.0):
        trainer = make_trainer(tiny_model_dir, tmp_path / str(coef), FakeScorer(by_member([FLAT, FLAT])),
                               entropy_coef=coef, lr=3e-3)
        updates = record_update(monkeypatch, trainer)
        before = {n: p.detach().clone() for n, p in trainer.backend.master().named_parameters()}
        m = trainer.train_step(1)
        flat = updates[0]["flat"]
        moved = any(not torch.equal(p, before[n]) for n, p in trainer.backend.master().named_parameters())
        if coef == 0:
            assert m["active_frac"] == 0.0 and not moved
            continue
        assert m["active_frac"] == 1.0 and moved
        after = entropy_of(trainer, flat)
        assert after > m["entropy"] + 1e-4, (m["entropy"], after)  # m["entropy"]: before the update, same rows
