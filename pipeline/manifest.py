"""Stage manifests: the spine of the pipeline.

A manifest is the one record that a stage finished. It is written *last*, atomically
(temporary file, fsync, rename), so its presence means completion; an interrupted stage
leaves no manifest and therefore nothing that counts as done.

It carries: schema version, stage name, run id, created time, the fully resolved config,
the input manifests (path + sha256 of the manifest file), every artifact (relative path,
sha256, bytes, optional row count), metrics, the environment (python, key package
versions, project git commit) and a status.

Loading verifies every artifact hash unless asked not to, and raises `ManifestError`
with the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
_KEY_PACKAGES = ("torch", "transformers", "datasets", "math-verify", "sympy", "deepspeed", "vllm", "peft")


class ManifestError(RuntimeError):
    """A manifest (or one of its artifacts) is missing, incomplete or tampered with."""


@dataclasses.dataclass
class Artifact:
    path: str  # relative to the manifest's directory
    sha256: str
    bytes: int
    rows: int | None = None


@dataclasses.dataclass
class InputRef:
    name: str  # role of the input, e.g. "dataset" or "model"
    path: str  # absolute path of the input manifest file
    sha256: str  # hash of the input manifest file itself
    stage: str


@dataclasses.dataclass
class Manifest:
    stage: str
    config: dict[str, Any]
    fingerprint: str  # hash of (stage, config, input hashes): equal means "up to date"
    inputs: list[InputRef] = dataclasses.field(default_factory=list)
    artifacts: list[Artifact] = dataclasses.field(default_factory=list)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "complete"
    run_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = dataclasses.field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION

    def artifact(self, path: str) -> Artifact:
        for a in self.artifacts:
            if a.path == path:
                return a
        raise KeyError(f"manifest of stage {self.stage!r} has no artifact {path!r}")

    def input(self, name: str) -> InputRef:
        for i in self.inputs:
            if i.name == name:
                return i
        raise KeyError(f"manifest of stage {self.stage!r} has no input {name!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        d = dict(d)
        d["inputs"] = [InputRef(**i) for i in d.get("inputs", [])]
        d["artifacts"] = [Artifact(**a) for a in d.get("artifacts", [])]
        return cls(**d)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def make_artifact(root: Path, path: Path, rows: int | None = None) -> Artifact:
    """Describe one file (or every file of a directory, hashed together) below `root`."""
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        size = 0
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_file(f).encode())
            size += f.stat().st_size
        return Artifact(str(path.relative_to(root)), h.hexdigest(), size, rows)
    return Artifact(str(path.relative_to(root)), sha256_file(path), path.stat().st_size, rows)


def environment() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for pkg in _KEY_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions, "git_commit": commit}


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    if not manifest.environment:
        manifest.environment = environment()
    path = Path(out_dir) / MANIFEST_NAME
    atomic_write_text(path, manifest.to_json())
    return path


def manifest_path(p: str | os.PathLike) -> Path:
    """Accept a stage directory or a manifest file path."""
    p = Path(p)
    return p / MANIFEST_NAME if p.is_dir() or p.suffix != ".json" else p


def load_manifest(p: str | os.PathLike, verify: bool = True, expect_stage: str | None = None) -> Manifest:
    """Load a manifest; with `verify`, re-hash every artifact and refuse any mismatch."""
    path = manifest_path(p)
    if not path.exists():
        raise ManifestError(
            f"{path}: no manifest. The stage that writes it has not finished (or was never run); run it first."
        )
    try:
        m = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise ManifestError(f"{path}: manifest is incomplete or corrupt ({e}).") from e
    if m.schema_version != SCHEMA_VERSION:
        raise ManifestError(f"{path}: schema version {m.schema_version}, this code reads {SCHEMA_VERSION}.")
    if m.status != "complete":
        raise ManifestError(f"{path}: stage {m.stage!r} has status {m.status!r}, not 'complete'.")
    if expect_stage is not None and m.stage != expect_stage:
        raise ManifestError(f"{path}: expected a manifest of stage {expect_stage!r}, found {m.stage!r}.")
    if verify:
        verify_artifacts(path.parent, m, path)
    return m


def verify_artifacts(root: Path, m: Manifest, where: Path | None = None) -> None:
    where = where or root / MANIFEST_NAME
    for a in m.artifacts:
        f = root / a.path
        if not f.exists():
            raise ManifestError(f"{where}: artifact {a.path} is missing ({f}).")
        got = make_artifact(root, f)
        if got.sha256 != a.sha256:
            raise ManifestError(
                f"{where}: artifact {a.path} was modified after the stage finished "
                f"(sha256 {got.sha256[:12]}…, manifest says {a.sha256[:12]}…). Re-run the stage with --force."
            )
