"""Stage scripts refuse a missing or tampered input with one clear line, not a traceback."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_train_with_missing_input_names_the_file(tmp_path):
    res = run("scripts/03_train.py", "--config", "configs/train_embedded.yaml", "--data", str(tmp_path / "nope"),
              "--out", str(tmp_path / "train"))
    assert res.returncode == 2
    assert f"error: {tmp_path / 'nope' / 'manifest.json'}: no manifest" in res.stderr
    assert "Traceback" not in res.stderr


def test_config_typo_names_the_field(tmp_path):
    res = run("scripts/01_curate.py", "--config", "configs/curate_embedded.yaml", "--out", str(tmp_path / "c"),
              "verifer_workers=1")
    assert res.returncode == 2
    assert "unknown config field 'verifer_workers'" in res.stderr and "Did you mean 'verifier_workers'" in res.stderr
