"""Evaluation report: Markdown + HTML tables and matplotlib (Agg) plots from an evaluation's outputs.

Inputs: the evaluation directory (metrics.json and samples/<model>/<benchmark>.jsonl written by
eval/evaluate.py) and, per model that came from a training stage, that stage directory (its
metrics.jsonl, one JSON object per step, gives the training curves; absent = plot skipped).
Outputs (relative to the evaluation directory): report.md, report.html, plots/accuracy.png,
plots/lengths.png, plots/training_<model>.png and plots/lengths_training_<model>.png (the completion-length
distribution over steps, from the per-step completion_len/p10, /p50, /p90 the trainer logs).

Tables: a summary (benchmark x model, avg@n with 95% bootstrap CI), then one table per benchmark
with models side by side (base vs trained) and, for two models, the difference.

    python -m eval.report runs/eval --out runs/eval_report [--train trained=runs/train]   # rebuild elsewhere
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Training metrics to plot, in order (pipeline/grpo names first), then any other matching key, up to 6.
_CURVE_PREFERRED = ("reward/mean", "accuracy", "completion_len/mean", "kl", "entropy", "zero_variance_frac",
                    "truncation_rate")
_CURVE_PATTERNS = ("reward", "accuracy", "acc", "kl", "len", "entropy")


def _fmt(fig: dict | None, pct: bool = True) -> str:
    if not fig:
        return "–"
    v, (lo, hi) = fig["value"], fig.get("ci", [None, None])
    if lo is None or lo != lo:
        return f"{100 * v:.1f}" if pct else f"{v:.3f}"
    return f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" if pct else f"{v:.3f}"


def _metric_names(figures: dict, bench: str) -> list[str]:
    names: list[str] = []
    for per_bench in figures.values():
        for key in per_bench.get(bench, {}):
            if ("@" in key) and key not in names:
                names.append(key)
    order = {"avg@n": 0, "pass": 1, "maj": 2}
    return sorted(names, key=lambda k: (order.get(k.split("@")[0], 0) if k != "avg@n" else -1,
                                        int(k.split("@")[1]) if k.split("@")[1].isdigit() else 0))


def tables(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """[(title, header, rows)]: the summary table, then one per benchmark (models side by side)."""
    figures, models = result["figures"], list(result["figures"])
    benches = list(result["benchmarks"])
    summary = [[b, str(result["benchmarks"][b]["problems"])] + [_fmt(figures[m].get(b, {}).get("avg@n")) for m in models]
               for b in benches]
    out = [("Summary: avg@n (mean pass@1, %) with 95% bootstrap CI", ["benchmark", "problems"] + models, summary)]
    two = len(models) == 2
    for b in benches:
        rows = []
        for key in _metric_names(figures, b):
            cells = [_fmt(figures[m].get(b, {}).get(key)) for m in models]
            if two:
                a, c = (figures[m].get(b, {}).get(key) for m in models)
                cells.append(f"{100 * (c['value'] - a['value']):+.1f}" if a and c else "–")
            rows.append([key] + cells)
        for key, label in (("mean_tokens", "mean tokens"), ("truncated", "truncated (%)")):
            vals = [figures[m].get(b, {}).get(key) for m in models]
            cells = ["–" if v is None else (f"{100 * v:.1f}" if key == "truncated" else f"{v:.0f}") for v in vals]
            rows.append([label] + cells + ([""] if two else []))
        reasons = [", ".join(f"{k} {v}" for k, v in figures[m].get(b, {}).get("reasons", {}).items()) for m in models]
        rows.append(["reasons"] + reasons + ([""] if two else []))
        header = ["metric (%)"] + models + (["Δ (2nd − 1st)"] if two else [])
        out.append((f"{b} ({result['benchmarks'][b]['problems']} problems, template {result['benchmarks'][b]['template']})",
                    header, rows))
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def plot_accuracy(result: dict, path: Path) -> None:
    """Grouped bars: avg@n per benchmark, one bar per model, 95% CI whiskers."""
    figures, models, benches = result["figures"], list(result["figures"]), list(result["benchmarks"])
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(benches) + 2), 3.6))
    for i, m in enumerate(models):
        vals, err_lo, err_hi = [], [], []
        for b in benches:
            f = figures[m].get(b, {}).get("avg@n") or {"value": 0.0, "ci": [0.0, 0.0]}
            vals.append(100 * f["value"])
            err_lo.append(max(0.0, 100 * (f["value"] - f["ci"][0])))
            err_hi.append(max(0.0, 100 * (f["ci"][1] - f["value"])))
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(benches))]
        bars = ax.bar(xs, vals, width, yerr=[err_lo, err_hi], capsize=3, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(range(len(benches)), benches)
    ax.set_ylabel("avg@n (%)")
    ax.set_title(f"Accuracy per benchmark ({result['protocol']['protocol']}, n={result['protocol']['n']})")
    ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_lengths(samples_dir: Path, result: dict, path: Path) -> None:
    """Histogram of completion lengths (tokens) per benchmark, models overlaid."""
    models, benches = list(result["figures"]), list(result["benchmarks"])
    max_new = result["protocol"]["max_new_tokens"]
    fig, axes = plt.subplots(1, len(benches), figsize=(3.2 * len(benches) + 1, 3.0), squeeze=False)
    for ax, b in zip(axes[0], benches):
        for m in models:
            f = samples_dir / m / f"{b}.jsonl"
            toks = [json.loads(line)["tokens"] for line in f.open(encoding="utf-8")] if f.exists() else []
            if toks:
                ax.hist(toks, bins=20, range=(0, max_new), alpha=0.55, label=m)
        ax.set_title(b)
        ax.set_xlabel("completion tokens")
    axes[0][0].set_ylabel("samples")
    axes[0][0].legend()
    fig.suptitle(f"Response-length distribution (max_new_tokens {max_new})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def training_curve_keys(recs: list[dict]) -> list[str]:
    """Which per-step metrics the training plot shows: the preferred curves, each verifier's accuracy in a mixed
    run, each objective's reward in a multi-objective run (e.g. reward/format_r1/mean beside accuracy), then
    other reward/accuracy/KL/length/entropy metrics up to six panels."""
    numeric = {k for r in recs for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    keys = [k for k in _CURVE_PREFERRED if k in numeric]
    per_verifier = sorted(k for k in numeric if k.startswith("accuracy/"))  # a mixed run: each verifier's own curve
    if len(per_verifier) > 1:
        keys[keys.index("accuracy") + 1 if "accuracy" in keys else 0:0] = per_verifier
    objectives = sorted(k for k in numeric if k.startswith("reward/") and k.endswith("/mean") and k.count("/") == 2)
    objectives = objectives if len(objectives) > 1 else []  # a multi-objective run (e.g. R1 format + answer)
    if objectives:
        keys[keys.index("reward/mean") + 1 if "reward/mean" in keys else 0:0] = objectives
    keys += sorted(k for k in numeric - set(keys) if not k.startswith(("accuracy/", "reward/"))
                   and any(t in k.lower() for t in _CURVE_PATTERNS))
    keys = keys[:6 + len(per_verifier) * (len(per_verifier) > 1) + len(objectives)]
    return keys


def plot_training(metrics_jsonl: Path, path: Path, title: str) -> bool:
    """Training curves (reward/accuracy/KL/length ... vs step; each objective's reward when there are several,
    e.g. the R1 format-reward rate beside accuracy); False when there is nothing to plot."""
    if not metrics_jsonl.exists():
        return False
    recs = [json.loads(line) for line in metrics_jsonl.open(encoding="utf-8") if line.strip()]
    keys = training_curve_keys(recs)
    if not recs or not keys:
        return False
    steps = [r.get("step", i) for i, r in enumerate(recs)]
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 1, 2.6 * rows + 0.4), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, k in zip(axes.flat, keys):
        pts = [(s, r[k]) for s, r in zip(steps, recs) if isinstance(r.get(k), (int, float))]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        ax.plot(xs, ys, lw=0.8, alpha=0.5 if len(ys) > 20 else 1.0)
        if len(ys) > 20:  # moving average over ~5% of the run
            w = max(2, len(ys) // 20)
            ax.plot(xs[w - 1:], [sum(ys[i - w + 1:i + 1]) / w for i in range(w - 1, len(ys))], lw=1.6)
        ax.set_title(k, fontsize=8)
        ax.set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_training_lengths(metrics_jsonl: Path, path: Path, title: str) -> bool:
    """Completion lengths over training: the p10-p90 band, the p50 line (and the mean) per step, beside the
    truncation rate; False when no step logged the percentiles (runs from before they were logged)."""
    if not metrics_jsonl.exists():
        return False
    recs = [json.loads(line) for line in metrics_jsonl.open(encoding="utf-8") if line.strip()]
    keys = ("completion_len/p10", "completion_len/p50", "completion_len/p90")
    pts = [(r.get("step", i), r) for i, r in enumerate(recs) if all(isinstance(r.get(k), (int, float)) for k in keys)]
    if not pts:
        return False
    xs = [s for s, _ in pts]
    trunc = [(s, r["truncation_rate"]) for s, r in pts if isinstance(r.get("truncation_rate"), (int, float))]
    fig, axes = plt.subplots(1, 2 if trunc else 1, figsize=(10 if trunc else 6, 3.4), squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1] if trunc else [1]})
    ax = axes[0][0]
    ax.fill_between(xs, [r[keys[0]] for _, r in pts], [r[keys[2]] for _, r in pts], alpha=0.3, lw=0,
                    label="p10-p90")
    ax.plot(xs, [r[keys[1]] for _, r in pts], lw=1.4, label="p50")
    if all(isinstance(r.get("completion_len/mean"), (int, float)) for _, r in pts):
        ax.plot(xs, [r["completion_len/mean"] for _, r in pts], lw=0.8, ls="--", label="mean")
    ax.set_xlabel("step")
    ax.set_ylabel("completion tokens")
    ax.set_title("completion length per step", fontsize=8)
    ax.legend(fontsize=7)
    if trunc:
        axes[0][1].plot([s for s, _ in trunc], [v for _, v in trunc], lw=1.0)
        axes[0][1].set_ylim(-0.02, 1.02)
        axes[0][1].set_xlabel("step")
        axes[0][1].set_title("truncation_rate", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_report(out_dir: Path, result: dict, training_dirs: dict[str, Path] | None = None,
                 samples_dir: Path | None = None) -> dict[str, None]:
    """Write report.md, report.html and plots/; returns {relative path: None} for the manifest."""
    out_dir = Path(out_dir)
    samples_dir = Path(samples_dir) if samples_dir else out_dir / "samples"
    (out_dir / "plots").mkdir(exist_ok=True)
    plot_accuracy(result, out_dir / "plots" / "accuracy.png")
    plot_lengths(samples_dir, result, out_dir / "plots" / "lengths.png")
    images = [("Accuracy per benchmark", "plots/accuracy.png"), ("Response lengths", "plots/lengths.png")]
    for label, d in (training_dirs or {}).items():
        rel = f"plots/training_{label}.png"
        if plot_training(Path(d) / "metrics.jsonl", out_dir / rel, f"Training curves: {label} ({d})"):
            images.append((f"Training curves ({label})", rel))
        rel = f"plots/lengths_training_{label}.png"
        if plot_training_lengths(Path(d) / "metrics.jsonl", out_dir / rel, f"Completion lengths: {label} ({d})"):
            images.append((f"Completion lengths over training ({label})", rel))
    p = result["protocol"]
    proto = (f"protocol {p['protocol']}, n={p['n']}, temperature {p['temperature']}, top-p {p['top_p']}, "
             f"max_new_tokens {p['max_new_tokens']}, seed {p['seed']}, engine {p['engine']}")
    model_lines = [f"- **{m}**: {info.get('model_dir')}" + (f" (stage {info['stage_dir']}, manifest sha256 "
                   f"{info['manifest_sha256'][:12]}…)" if info.get("stage_dir") else "")
                   for m, info in result["models"].items()]
    tabs = tables(result)
    md = ["# Evaluation report", "", proto, "", *model_lines, ""]
    for title, header, rows in tabs:
        md += [f"## {title}", "", _md_table(header, rows), ""]
    md += [f"![{t}]({rel})\n" for t, rel in images]
    md += ["Per-sample records (prompt, completion, extracted answer, score, reason, tokens): `samples/<model>/<benchmark>.jsonl`."]
    (out_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    body = [f"<h1>Evaluation report</h1><p>{html.escape(proto)}</p><ul>"
            + "".join(f"<li>{html.escape(x[2:])}</li>" for x in model_lines) + "</ul>"]
    body += [f"<h2>{html.escape(t)}</h2>{_html_table(h, r)}" for t, h, r in tabs]
    body += [f"<h2>{html.escape(t)}</h2><img src='{rel}' alt='{html.escape(t)}'>" for t, rel in images]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#f3f3f3}img{max-width:100%}")
    (out_dir / "report.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report"
                                         f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n",
                                         encoding="utf-8")
    return {"report.md": None, "report.html": None, "plots": None}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Rebuild the evaluation report from metrics.json and samples/.")
    ap.add_argument("eval_dir", help="an evaluation stage directory (left untouched: its manifest hashes the report)")
    ap.add_argument("--out", required=True, help="directory for the rebuilt report")
    ap.add_argument("--train", action="append", default=[], help="label=training stage dir (for curves)")
    a = ap.parse_args()
    res = json.loads((Path(a.eval_dir) / "metrics.json").read_text())
    Path(a.out).mkdir(parents=True, exist_ok=True)
    write_report(Path(a.out), res, dict(t.split("=", 1) for t in a.train), samples_dir=Path(a.eval_dir) / "samples")
    print(f"wrote {Path(a.out) / 'report.md'} and report.html")
