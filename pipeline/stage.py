"""Stage runner: inputs, outputs, up-to-date checks, and the "done means manifest" rule.

A stage is a function `body(ctx) -> StageResult` plus a name, an output directory, a
resolved config and named input manifests. `run_stage`:

1. loads and verifies every input manifest (missing, incomplete or tampered: `ManifestError`
   naming the file and the problem);
2. computes a fingerprint over (stage, config, input manifest hashes);
3. if the output directory already holds a verified manifest with that fingerprint, prints
   "up to date" and returns it (unless `force`);
4. otherwise removes any old manifest first (so an interrupted run never counts as done),
   keeps partial work only when it was started with the same fingerprint (`ctx.resuming`),
   runs the body, hashes the artifacts it names, and writes the manifest last, atomically.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from pipeline.manifest import (
    MANIFEST_NAME,
    InputRef,
    Manifest,
    ManifestError,
    load_manifest,
    make_artifact,
    manifest_path,
    sha256_file,
    sha256_json,
    write_manifest,
)

PROGRESS_NAME = ".in_progress.json"


@dataclasses.dataclass
class StageContext:
    name: str
    out_dir: Path
    config: Any  # the typed config object
    inputs: dict[str, Manifest]  # role -> verified input manifest
    input_dirs: dict[str, Path]  # role -> directory holding that manifest
    resuming: bool  # partial work in out_dir was made with the same fingerprint

    def log(self, msg: str) -> None:
        print(f"[{self.name}] {msg}", flush=True)


@dataclasses.dataclass
class StageResult:
    artifacts: dict[str, int | None]  # relative path (file or directory) -> row count or None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)


def fingerprint(name: str, config: dict[str, Any], inputs: dict[str, InputRef]) -> str:
    return sha256_json({"stage": name, "config": config, "inputs": {k: v.sha256 for k, v in sorted(inputs.items())}})


def _load_inputs(inputs: dict[str, str | Path], expect: dict[str, str] | None):
    manifests, refs, dirs = {}, {}, {}
    for role, p in inputs.items():
        mp = manifest_path(p)
        m = load_manifest(mp, verify=True, expect_stage=(expect or {}).get(role))
        manifests[role] = m
        dirs[role] = mp.parent.resolve()
        refs[role] = InputRef(name=role, path=str(mp.resolve()), sha256=sha256_file(mp), stage=m.stage)
    return manifests, refs, dirs


def up_to_date(out_dir: Path, fp: str) -> Manifest | None:
    mp = Path(out_dir) / MANIFEST_NAME
    if not mp.exists():
        return None
    try:
        m = load_manifest(mp, verify=True)
    except ManifestError as e:
        print(f"[stage] previous output is not valid, re-running: {e}", flush=True)
        return None
    return m if m.fingerprint == fp else None


def run_stage(
    name: str,
    out_dir: str | Path,
    config: Any,
    body: Callable[[StageContext], StageResult],
    inputs: dict[str, str | Path] | None = None,
    expect_stages: dict[str, str] | None = None,
    force: bool = False,
) -> Manifest:
    out_dir = Path(out_dir)
    config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    manifests, refs, dirs = _load_inputs(inputs or {}, expect_stages)
    fp = fingerprint(name, config_dict, refs)

    if not force and (done := up_to_date(out_dir, fp)) is not None:
        print(f"[{name}] up to date: {out_dir / MANIFEST_NAME} (run {done.run_id}); nothing to do.", flush=True)
        return done

    resuming = _prepare_out_dir(out_dir, fp, force)
    ctx = StageContext(name, out_dir, config, manifests, dirs, resuming)
    t0 = time.time()
    result = body(ctx)
    artifacts = []
    for rel, rows in result.artifacts.items():
        path = out_dir / rel
        if not path.exists():
            raise ManifestError(f"stage {name!r} declared artifact {rel} but did not write {path}")
        artifacts.append(make_artifact(out_dir, path, rows))
    metrics = dict(result.metrics)
    metrics.setdefault("seconds", round(time.time() - t0, 3))
    manifest = Manifest(stage=name, config=config_dict, fingerprint=fp, inputs=list(refs.values()),
                        artifacts=artifacts, metrics=metrics)
    write_manifest(out_dir, manifest)
    (out_dir / PROGRESS_NAME).unlink(missing_ok=True)
    print(f"[{name}] wrote {out_dir / MANIFEST_NAME}", flush=True)
    return manifest


def _prepare_out_dir(out_dir: Path, fp: str, force: bool) -> bool:
    """Drop the old manifest first; keep partial work only if it was begun with the same fingerprint."""
    progress = out_dir / PROGRESS_NAME
    owned = (out_dir / MANIFEST_NAME).exists() or progress.exists()
    if out_dir.exists() and any(out_dir.iterdir()) and not owned:
        raise ManifestError(f"{out_dir} is not empty and holds no stage output; refusing to overwrite it. "
                            "Choose another output directory.")
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    resuming = False
    if progress.exists() and not force:
        try:
            resuming = json.loads(progress.read_text()).get("fingerprint") == fp
        except (json.JSONDecodeError, OSError):
            resuming = False
    if out_dir.exists() and not resuming:
        for child in out_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    progress.write_text(json.dumps({"fingerprint": fp, "started": time.time()}))
    if resuming:
        print(f"[stage] resuming partial work in {out_dir}", flush=True)
    return resuming
