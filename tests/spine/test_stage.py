"""Stage runner: no-op re-runs, config changes, upstream changes, kills, tampered inputs."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.manifest import ManifestError, load_manifest
from pipeline.stage import StageResult, run_stage


@dataclasses.dataclass
class Cfg:
    n: int = 3


def make_body(calls):
    def body(ctx):
        calls.append(ctx.resuming)
        (ctx.out_dir / "rows.txt").write_text("\n".join(str(i) for i in range(ctx.config.n)))
        return StageResult(artifacts={"rows.txt": ctx.config.n}, metrics={"n": ctx.config.n})

    return body


def test_rerun_is_a_noop(tmp_path, capsys):
    calls = []
    m1 = run_stage("up", tmp_path / "up", Cfg(), make_body(calls))
    m2 = run_stage("up", tmp_path / "up", Cfg(), make_body(calls))
    assert len(calls) == 1
    assert m1.run_id == m2.run_id
    assert "up to date" in capsys.readouterr().out


def test_changed_config_reruns(tmp_path):
    calls = []
    m1 = run_stage("up", tmp_path / "up", Cfg(3), make_body(calls))
    m2 = run_stage("up", tmp_path / "up", Cfg(4), make_body(calls))
    assert len(calls) == 2 and m1.fingerprint != m2.fingerprint
    assert load_manifest(tmp_path / "up").metrics["n"] == 4


def test_force_reruns(tmp_path):
    calls = []
    run_stage("up", tmp_path / "up", Cfg(), make_body(calls))
    run_stage("up", tmp_path / "up", Cfg(), make_body(calls), force=True)
    assert len(calls) == 2


def test_changed_upstream_reruns_downstream(tmp_path):
    up_calls, down_calls = [], []
    run_stage("up", tmp_path / "up", Cfg(3), make_body(up_calls))
    down = run_stage("down", tmp_path / "down", Cfg(1), make_body(down_calls), inputs={"data": tmp_path / "up"})
    assert down.input("data").stage == "up"
    run_stage("down", tmp_path / "down", Cfg(1), make_body(down_calls), inputs={"data": tmp_path / "up"})
    assert len(down_calls) == 1
    run_stage("up", tmp_path / "up", Cfg(5), make_body(up_calls))
    run_stage("down", tmp_path / "down", Cfg(1), make_body(down_calls), inputs={"data": tmp_path / "up"})
    assert len(down_calls) == 2


def test_missing_input_names_the_file(tmp_path):
    with pytest.raises(ManifestError, match=r"nothere.*no manifest"):
        run_stage("down", tmp_path / "down", Cfg(), make_body([]), inputs={"data": tmp_path / "nothere"})
    assert not (tmp_path / "down" / "manifest.json").exists()


def test_tampered_input_is_refused(tmp_path):
    run_stage("up", tmp_path / "up", Cfg(), make_body([]))
    (tmp_path / "up" / "rows.txt").write_text("0\n1\n999")
    with pytest.raises(ManifestError, match=r"rows.txt was modified"):
        run_stage("down", tmp_path / "down", Cfg(), make_body([]), inputs={"data": tmp_path / "up"})


def test_tampered_own_output_reruns(tmp_path):
    calls = []
    run_stage("up", tmp_path / "up", Cfg(), make_body(calls))
    (tmp_path / "up" / "rows.txt").write_text("garbage")
    run_stage("up", tmp_path / "up", Cfg(), make_body(calls))
    assert len(calls) == 2
    assert (tmp_path / "up" / "rows.txt").read_text() == "0\n1\n2"


def test_refuses_to_clobber_a_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep")
    with pytest.raises(ManifestError, match="refusing to overwrite"):
        run_stage("up", tmp_path / "mine", Cfg(), make_body([]))
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep"


KILLED = textwrap.dedent(
    """
    import dataclasses, os, signal, sys
    from pipeline.stage import StageResult, run_stage

    @dataclasses.dataclass
    class Cfg:
        n: int = 3

    def body(ctx):
        (ctx.out_dir / "part.txt").write_text("half")
        os.kill(os.getpid(), signal.SIGKILL)  # dies before the manifest is written

    run_stage("up", sys.argv[1], Cfg(), body)
    """
)


def test_killed_stage_is_not_done_and_resumes(tmp_path):
    out = tmp_path / "up"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    res = subprocess.run([sys.executable, "-c", KILLED, str(out)], env=env, capture_output=True, text=True)
    assert res.returncode == -9, res.stderr
    assert (out / "part.txt").exists()
    assert not (out / "manifest.json").exists()
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(out)
    calls = []
    run_stage("up", out, Cfg(), make_body(calls))
    assert calls == [True], "same config after a kill must resume partial work"
    load_manifest(out)


def test_killed_with_other_config_starts_clean(tmp_path):
    out = tmp_path / "up"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    subprocess.run([sys.executable, "-c", KILLED, str(out)], env=env, capture_output=True)
    calls = []
    run_stage("up", out, Cfg(7), make_body(calls))
    assert calls == [False]
    assert not (out / "part.txt").exists()
