"""`status` prints lineage upstream-first and flags stale or tampered stages."""

import dataclasses
import io

from pipeline.stage import StageResult, run_stage
from pipeline.status import status


@dataclasses.dataclass
class Cfg:
    n: int = 2


def body(ctx):
    (ctx.out_dir / "out.txt").write_text("x" * ctx.config.n)
    return StageResult({"out.txt": ctx.config.n}, {"rows": ctx.config.n, "accuracy": 0.5})


def test_status_lineage(tmp_path):
    run_stage("curate", tmp_path / "a_curate", Cfg(), body)
    run_stage("train", tmp_path / "0_train", Cfg(), body, inputs={"data": tmp_path / "a_curate"})
    out = io.StringIO()
    assert status(tmp_path, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("curate") and "integrity ok" in lines[0]
    train_line = next(i for i, l in enumerate(lines) if l.startswith("train"))
    assert lines[train_line + 1].strip().startswith("<- data: curate manifest")
    assert "accuracy=0.5" in out.getvalue()


def test_status_flags_changed_upstream_and_tampering(tmp_path):
    run_stage("curate", tmp_path / "curate", Cfg(), body)
    run_stage("train", tmp_path / "train", Cfg(), body, inputs={"data": tmp_path / "curate"})
    run_stage("curate", tmp_path / "curate", Cfg(3), body)
    (tmp_path / "train" / "out.txt").write_text("tampered")
    out = io.StringIO()
    assert status(tmp_path, out) == 1
    text = out.getvalue()
    assert "CHANGED since: re-run" in text
    assert "integrity FAILED" in text and "out.txt was modified" in text
