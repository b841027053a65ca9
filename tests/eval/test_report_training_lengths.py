"""The report's completion-length plot over training (eval/report.py): written and referenced from a training
stage's metrics.jsonl that logs completion_len/p10, /p50, /p90 per step; skipped for runs that logged none."""

from __future__ import annotations

import json

from eval.report import plot_training_lengths, write_report


def result() -> dict:
    fig = {"avg@n": {"value": 0.5, "ci": [0.3, 0.7]}, "mean_tokens": 12.0, "truncated": 0.1, "reasons": {"ok": 2}}
    return {"figures": {"base": {"arith": fig}, "trained": {"arith": fig}},
            "benchmarks": {"arith": {"problems": 4, "template": "boxed"}},
            "protocol": {"protocol": "sample", "n": 2, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 32,
                         "seed": 0, "engine": "transformers"},
            "models": {"base": {"model_dir": "base"}, "trained": {"model_dir": "trained"}}}


def training_dir(tmp_path, with_percentiles: bool = True):
    d = tmp_path / "train"
    d.mkdir()
    with open(d / "metrics.jsonl", "w") as f:
        for step in range(1, 7):
            rec = {"step": step, "reward/mean": 0.1 * step, "completion_len/mean": 20 + 5 * step,
                   "truncation_rate": 0.05 * step, "entropy": 1.0 - 0.1 * step}
            if with_percentiles:
                rec.update({"completion_len/p10": 10 + 2 * step, "completion_len/p50": 20 + 5 * step,
                            "completion_len/p90": 40 + 8 * step})
            f.write(json.dumps(rec) + "\n")
    return d


def test_report_plots_and_references_the_length_distribution_over_training(tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    write_report(out, result(), {"trained": training_dir(tmp_path)})
    plot = out / "plots" / "lengths_training_trained.png"
    assert plot.stat().st_size > 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "](plots/lengths_training_trained.png)" in md and "src='plots/lengths_training_trained.png'" in page
    assert "](plots/training_trained.png)" in md  # beside the training curves


def test_report_skips_the_length_plot_for_runs_without_percentiles(tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    write_report(out, result(), {"trained": training_dir(tmp_path, with_percentiles=False)})
    assert not (out / "plots" / "lengths_training_trained.png").exists()
    assert "lengths_training_" not in (out / "report.md").read_text()
    assert (out / "plots" / "training_trained.png").exists()


def test_length_plot_without_truncation_rate_or_metrics(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text(json.dumps({"step": 1, "completion_len/p10": 1, "completion_len/p50": 2, "completion_len/p90": 3}))
    assert plot_training_lengths(p, tmp_path / "a.png", "t") and (tmp_path / "a.png").stat().st_size > 0
    assert not plot_training_lengths(tmp_path / "missing.jsonl", tmp_path / "b.png", "t")
