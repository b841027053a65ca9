"""`status`: print a run directory's lineage (stage, when, inputs, key metrics, integrity).

    python scripts/status.py runs/demo

Every sub-directory holding a `manifest.json` is a stage. Stages are printed upstream
first; each input names the stage and the first 12 hex digits of the manifest hash it was
built from, and says whether that manifest has changed since (stale lineage).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.manifest import MANIFEST_NAME, ManifestError, load_manifest, sha256_file

_SKIP_METRICS = {"seconds"}


def _order(manifests: dict[Path, object]) -> list[Path]:
    done: list[Path] = []
    pending = dict(manifests)
    while pending:
        progressed = False
        for path, m in list(pending.items()):
            ups = [Path(i.path) for i in m.inputs if Path(i.path) in pending]
            if not ups:
                done.append(path)
                del pending[path]
                progressed = True
        if not progressed:  # a cycle cannot happen, but never loop forever
            done.extend(pending)
            break
    return done


_HEADLINE = ("steps", "rows_in", "kept", "mean_pass_rate", "quarantined", "duplicates", "contaminated", "balanced",
             "last/reward/mean", "last/accuracy", "completions_per_step")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        elif not isinstance(v, list):
            out[key] = v
    return out


def _fmt_metrics(metrics: dict, limit: int = 8) -> str:
    """Headline scalars first; for evaluations, avg@n per model and benchmark."""
    flat = {k: v for k, v in _flatten(metrics).items() if k not in _SKIP_METRICS}
    keys = [k for k in _HEADLINE if k in flat] or [k for k in flat if k.endswith("/avg@n")]
    keys = keys or list(flat)
    fmt = (lambda v: round(v, 4) if isinstance(v, float) else v)
    return ", ".join(f"{k.removeprefix('figures/')}={fmt(flat[k])}" for k in keys[: max(limit, 12)])


def status(run_dir: Path, out=sys.stdout) -> int:
    paths = sorted(p.resolve() for p in Path(run_dir).rglob(MANIFEST_NAME))
    if not paths:
        print(f"{run_dir}: no stage manifests found", file=out)
        return 1
    manifests, problems = {}, 0
    for p in paths:
        try:
            manifests[p] = load_manifest(p, verify=False)
        except ManifestError as e:
            print(f"! {e}", file=out)
            problems += 1
    for p in _order(manifests):
        m = manifests[p]
        try:
            load_manifest(p, verify=True)
            integrity = "ok"
        except ManifestError as e:
            integrity, problems = f"FAILED: {e}", problems + 1
        rel = p.parent.relative_to(Path(run_dir).resolve()) if p.is_relative_to(Path(run_dir).resolve()) else p.parent
        print(f"{m.stage:<11} {str(rel):<22} {m.created}  run {m.run_id}  artifacts {len(m.artifacts)}  "
              f"integrity {integrity}", file=out)
        for i in m.inputs:
            ip = Path(i.path)
            now = sha256_file(ip) if ip.exists() else None
            state = "" if now == i.sha256 else ("  (MISSING)" if now is None else "  (CHANGED since: re-run)")
            print(f"    <- {i.name}: {i.stage} manifest {i.sha256[:12]}{state}", file=out)
        if m.metrics:
            print(f"    metrics: {_fmt_metrics(m.metrics)}", file=out)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--json", action="store_true", help="print the manifests as JSON instead")
    args = ap.parse_args(argv)
    if args.json:
        out = {str(p): json.loads(p.read_text()) for p in sorted(args.run_dir.rglob(MANIFEST_NAME))}
        print(json.dumps(out, indent=2))
        return 0
    return status(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
