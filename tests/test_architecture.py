"""Folder rules, checked on the source (verl's tests/special_sanity style).

Imports allowed between the top-level packages (nothing else is):
    rewards  -> pipeline                   only pipeline.registry and pipeline.config (light; no torch, below)
    data     -> pipeline, rewards          never eval: curation does not depend on evaluation
    pipeline -> data, rewards              never eval
    eval     -> data, pipeline, rewards    never pipeline.grpo (the training code)
    inside pipeline: rollout/ never imports grpo/ (the trainer uses the engines, not the reverse)
    no package imports scripts/ or benchmarks/ (entry points and measurements import the packages)
So what curation and evaluation share lives in data/ and eval imports it: the row schema
(data/schema.py) and the one benchmark table (data/benchmarks.py), which decontamination and
evaluation both load from.
Also: `rewards/` never imports torch, not even transitively (verifiers run in light worker processes
next to training); every builtin verifier in the registry has a tests/rewards/**/test_*.py file that
mentions it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from rewards import registry

REPO = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[str]:
    """Dotted names a module imports (`from a import b` yields `a` and `a.b`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def _py_files(folder: str) -> list[Path]:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files or folder == "eval", f"no Python files under {folder}/"
    return files


PACKAGES = ("rewards", "data", "pipeline", "eval")
ALLOWED = {"rewards": {"pipeline"}, "data": {"pipeline", "rewards"}, "pipeline": {"data", "rewards"},
           "eval": {"data", "pipeline", "rewards"}}
ONLY = {("rewards", "pipeline"): ("pipeline.registry", "pipeline.config")}


@pytest.mark.parametrize("folder", PACKAGES)
def test_imports_between_top_level_folders(folder):
    bad = []
    for p in _py_files(folder):
        for name in _imports(p):
            top = name.split(".")[0]
            if top == folder or top not in PACKAGES + ("scripts", "benchmarks"):
                continue
            only = ONLY.get((folder, top))
            if top not in ALLOWED[folder] or (only and not any(name == m or name.startswith(m + ".") for m in only)):
                bad.append(f"{p.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder,forbidden", [("rewards", "torch"), ("eval", "pipeline.grpo"),
                                               ("pipeline/rollout", "pipeline.grpo")],
                         ids=["rewards-no-torch", "eval-no-training-code", "rollout-no-training-code"])
def test_forbidden_imports(folder, forbidden):
    bad = [f"{p.relative_to(REPO)} imports {name}" for p in _py_files(folder) for name in _imports(p)
           if name == forbidden or name.startswith(forbidden + ".")]
    assert not bad, "\n".join(bad)


def test_rewards_import_does_not_pull_torch_transitively():
    mods = [f"rewards.{p.stem}" for p in (REPO / "rewards").glob("*.py") if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    try: importlib.import_module(m)\n"
            "    except ImportError as e: print('skip', m, e)\n"
            "print('TORCH' if 'torch' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("CLEAN"), out.stdout


@pytest.mark.parametrize("name", sorted(registry.BUILTIN), ids=sorted(registry.BUILTIN))
def test_every_builtin_verifier_has_a_test_file(name):
    tests = sorted((REPO / "tests" / "rewards").rglob("test_*.py"))
    hits = [p.name for p in tests if f'"{name}"' in p.read_text(encoding="utf-8")
            or f"'{name}'" in p.read_text(encoding="utf-8")]
    assert hits, f"no tests/rewards/**/test_*.py mentions the verifier {name!r}"
