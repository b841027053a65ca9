"""`python -m rewards.score in.jsonl out.jsonl`: one result row per input row, in order; bad lines
become `bad_input` rows naming the line, never an abort."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewards import score as score_cli

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "tests.rewards.slow_verifiers"

GOOD = "<think>ok</think><answer>4</answer>"
# id, raw line (bytes), expected (score, reason), expected error fragment
LINES = [
    ("ok-format", json.dumps({"id": "a", "verifier": "format_r1", "gold": None, "completion": GOOD}), (1.0, "ok"), None),
    ("ok-echo-options", json.dumps({"id": 7, "verifier": "test_echo", "gold": "x", "completion": "x", "options": {}}),
     (1.0, "ok"), None),
    ("wrong", json.dumps({"verifier": "test_echo", "gold": "x", "completion": "y"}), (0.0, "wrong"), None),
    ("code-row-tests-passthrough", json.dumps({"verifier": "test_echo", "tests": ["assert f()"], "completion": "z"}),
     (0.0, "wrong"), None),
    ("bad-json", "{not json", (None, "bad_input"), "line 5"),
    ("not-an-object", "[1, 2]", (None, "bad_input"), "JSON object"),
    ("unknown-verifier", json.dumps({"verifier": "formt_r1", "gold": 1, "completion": ""}), (None, "bad_input"),
     "format_r1"),
    ("missing-completion", json.dumps({"verifier": "format_r1", "gold": 1}), (None, "bad_input"), "completion"),
    ("missing-gold", json.dumps({"verifier": "test_echo", "completion": "x"}), (None, "bad_input"), "gold"),
    ("lone-surrogate-escape", '{"verifier": "test_echo", "gold": "x", "completion": "\\ud800"}', (0.0, "wrong"), None),
    ("timeout", json.dumps({"verifier": "test_sleep", "gold": 0, "completion": "", "options": {"s": 30}}),
     (0.0, "timeout"), None),
]


def _write_input(path: Path) -> None:
    body = b"\n".join(line.encode() for _, line, _, _ in LINES) + b"\n\xff\xfe not utf8\n"
    path.write_bytes(body)


def test_score_file_rows_in_order(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(src)
    rc = score_cli.main([str(src), str(dst), "--workers", "2", "--deadline", "0.5", "--plugins", PLUGIN])
    assert rc == 0
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert len(out) == len(LINES) + 1
    for (case_id, _, (score, reason), err), row, lineno in zip(LINES, out, range(1, 100)):
        assert row["line"] == lineno, case_id
        assert (row["score"], row["reason"]) == (score, reason), (case_id, row)
        if err:
            assert err in row["error"], (case_id, row)
    assert out[0]["id"] == "a" and out[0]["extracted"] == "4" and out[1]["id"] == 7
    assert out[-1]["reason"] == "bad_input" and f"line {len(LINES) + 1}" in out[-1]["error"]


def test_cli_entry_point(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"verifier": "process", "gold": None, "completion": "200,000 = 2^5·10^4"}) + "\n")
    proc = subprocess.run([sys.executable, "-m", "rewards.score", str(src), str(dst), "--workers", "1", "--details"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(dst.read_text())
    assert (row["score"], row["reason"]) == (0.0, "false_step")
    assert row["details"]["first_false"]["claim"] == "200,000 = 2^5·10^4"
    assert '"rows": 1' in proc.stderr


@pytest.mark.parametrize("raw,fragment", [
    (b'{"verifier": 3, "gold": 1, "completion": "x"}', "verifier"),
    (b'{"verifier": "format_r1", "gold": 1, "completion": "x", "options": []}', "options"),
], ids=["verifier-not-string", "options-not-object"])
def test_parse_line_rejects(raw, fragment):
    item, stub = score_cli.parse_line(raw, 3)
    assert item is None and stub["reason"] == "bad_input" and fragment in stub["error"] and "line 3" in stub["error"]
