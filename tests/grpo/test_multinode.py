"""The multi-node path for real on one box: two `accelerate launch` "machines" of one process each
(configs/accelerate/cpu_2machines_loopback.yaml, 127.0.0.1, a free port) train the tiny model with DeepSpeed
ZeRO-2 on CPU and log exactly what one machine with 2 processes logs for the same config and seed; machine 0's
rank owns the stage directory (manifest, metrics, TensorBoard, model), machine 1's rank writes only its ZeRO
optimizer shard (and accelerate's RNG file) into each checkpoint; re-running the finished run stops at `up to date`
on both machines. The accelerate YAMLs load and say what the README says they do."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.grpo.test_distributed import _launch_cmd, _skip_without_deepspeed
from tests.grpo.test_train_stage import REPO, _metrics, data_dir  # noqa: F401  (fixture re-export)

DS = "configs/deepspeed/zero2.json"
ACC = REPO / "configs/accelerate"
STEPS, CKPT_EVERY = 3, 2  # a checkpoint at step 2 (inside the loop) and one at step 3 (the final save)
TIMEOUT_S = 600  # per launch (both machines together); a rank that hangs in a collective fails the test here


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a launcher and every descendant (torchrun starts each rank in a session of its own)."""
    import psutil

    try:
        victims = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        victims = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for p in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait()


def _run_together(cmds: list[list[str]], env: dict, logs: list[Path], timeout: float = TIMEOUT_S) -> list[str]:
    """Start every command at once (own process group, output to a file); wait for all of them. If one fails
    or the deadline passes, kill every tree and fail with the tails of the logs."""
    procs = []
    try:
        for cmd, log in zip(cmds, logs):
            with open(log, "w") as fh:
                procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        deadline = time.time() + timeout
        timed_out = False
        while None in (codes := [p.poll() for p in procs]):  # (poll every process: it sets returncode)
            if any(c not in (None, 0) for c in codes):
                break  # the other machine would wait for the failed one in a collective: stop it now
            if time.time() > deadline:
                timed_out = True
                break
            time.sleep(0.2)
    finally:
        running = [p for p in procs if p.poll() is None]
        for p in running:
            _kill_tree(p)
    texts = [log.read_text() for log in logs]
    if running or any(p.returncode != 0 for p in procs):
        why = f"still running after {timeout:.0f} s: killed" if timed_out else "failed (the others killed)"
        tails = "\n".join(f"--- {log.name} (rc {p.returncode}) ---\n{t[-4000:]}"
                          for p, log, t in zip(procs, logs, texts))
        pytest.fail(f"launch {why}\n{tails}")
    return texts


def _machine_cmd(base: list[str], rank: int, port: int) -> list[str]:
    """`accelerate launch` as on machine `rank` of 2 (one process each), with the single-machine command's script
    and arguments (so both runs train exactly the same config)."""
    script = base.index(str(REPO / "scripts/03_train.py"))
    return [base[0], "launch", "--config_file", str(ACC / "cpu_2machines_loopback.yaml"),
            "--num_machines", "2", "--num_processes", "2", "--machine_rank", str(rank),
            "--main_process_ip", "127.0.0.1", "--main_process_port", str(port), *base[script:]]


def _files(out: Path) -> list[str]:
    """Every file of a stage directory but the TensorBoard events (their names hold the time and pid)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.name != "tb")


def _stable(metrics: dict) -> dict:
    timing = ("last/time/", "last/tokens_per_s", "last/mem/", "peak_rss_mib", "seconds")  # measured, not computed
    return {k: v for k, v in metrics.items() if not k.startswith(timing)}


@pytest.fixture(scope="module")
def runs(tiny_model_dir, data_dir, tmp_path_factory):  # noqa: F811
    """The same 3-step ZeRO-2 run twice: one machine x 2 processes, then two machines x 1 process."""
    _skip_without_deepspeed()
    tmp = tmp_path_factory.mktemp("multinode")
    ref, multi = tmp / "one_machine", tmp / "two_machines"
    t0 = time.time()
    base, env = _launch_cmd(tiny_model_dir, data_dir, ref, DS, STEPS, CKPT_EVERY)
    script = base.index(str(REPO / "scripts/03_train.py"))
    one = [*base[:script], "--main_process_port", str(_free_port()), *base[script:]]
    (log_one,) = _run_together([one], env, [tmp / "one_machine.log"])
    t1 = time.time()
    base_multi, _ = _launch_cmd(tiny_model_dir, data_dir, multi, DS, STEPS, CKPT_EVERY)
    port = _free_port()
    cmds = [_machine_cmd(base_multi, r, port) for r in (0, 1)]
    log0, log1 = _run_together(cmds, env, [tmp / "machine0.log", tmp / "machine1.log"])
    t2 = time.time()
    print(f"\n[timing] one machine x 2 processes: {t1 - t0:.1f} s; two machines x 1 process: {t2 - t1:.1f} s")
    return {"ref": ref, "multi": multi, "log_one": log_one, "log0": log0, "log1": log1, "cmds": cmds, "env": env,
            "tmp": tmp}


@pytest.mark.slow
def test_two_machines_match_one_machine(runs):
    from pipeline.manifest import load_manifest

    ref, multi, log0, log1 = runs["ref"], runs["multi"], runs["log0"], runs["log1"]
    # the same training: every logged step equal (timings aside), the same final weights
    got, want = _metrics(multi / "metrics.jsonl"), _metrics(ref / "metrics.jsonl")
    assert [r["step"] for r in got] == list(range(1, STEPS + 1))
    assert got == want
    m, m_ref = load_manifest(multi), load_manifest(ref)  # (verifies every artifact's hash)
    assert m.metrics["steps"] == STEPS and _stable(m.metrics) == _stable(m_ref.metrics)
    assert m.artifact("model").sha256 == m_ref.artifact("model").sha256

    # one owner: machine 0 wrote the stage directory; machine 1 (whose only process is that machine's local
    # main, LOCAL_RANK=0) wrote nothing but its ZeRO shard (and accelerate's RNG file) into each checkpoint
    assert _files(multi) == _files(ref)
    assert len(list((multi / "tb").iterdir())) == len(list((ref / "tb").iterdir())) == 1
    for step in (2, 3):
        shards = sorted(p.name for p in (multi / f"checkpoints/step-{step:06d}/deepspeed").rglob("*optim_states.pt"))
        assert len(shards) == 2, shards  # one per rank: machine 1's is in machine 0's checkpoint (shared disk)
    assert f"trained {STEPS} steps" in log0 and "[train] wrote" in log0
    assert "trained" not in log1 and "[train] wrote" not in log1


@pytest.mark.slow
def test_rerun_of_a_finished_run_is_up_to_date_on_both_machines(runs):
    port = _free_port()
    cmds = [[*c[: c.index("--main_process_port") + 1], str(port), *c[c.index("--main_process_port") + 2:]]
            for c in runs["cmds"]]
    # rank 0 finds the stage up to date and tells machine 1's rank, which stops too (no training, no collective
    # left waiting); a hang is killed at the deadline
    log0, log1 = _run_together(cmds, runs["env"], [runs["tmp"] / "rerun0.log", runs["tmp"] / "rerun1.log"],
                               timeout=120)
    assert "up to date" in log0 and "[train] 12 train rows" not in log0 + log1


@pytest.mark.parametrize("name, machines, processes", [
    ("deepspeed_1node_8gpu.yaml", 1, 8),
    ("deepspeed_2nodes_8gpu.yaml", 2, 16),
    ("cpu_2machines_loopback.yaml", 2, 2),
])
def test_accelerate_configs_load_and_leave_deepspeed_to_the_train_config(name, machines, processes):
    from accelerate.commands.config.config_args import load_config_from_file

    c = load_config_from_file(str(ACC / name))
    assert c.distributed_type == "DEEPSPEED" and c.use_cpu is False
    assert (c.num_machines, c.num_processes) == (machines, processes)
    assert c.rdzv_backend == "static"
    # several machines: torchrun on each (the same command per node), not DeepSpeed's pdsh/ssh launcher
    assert machines == 1 or c.deepspeed_config.get("deepspeed_multinode_launcher") == "standard"
    # the DeepSpeed config is the train config's `deepspeed:` (pipeline/grpo/distributed.py builds the plugin): a
    # deepspeed_config_file here would be ignored, and accelerate refuses the rest next to the trainer's config
    # ("the following accelerate config variables will be ignored"), mixed_precision included
    not_here = {"deepspeed_config_file", "zero_stage", "gradient_accumulation_steps", "gradient_clipping",
                "offload_optimizer_device", "offload_param_device", "offload_optimizer_nvme_path",
                "offload_param_nvme_path", "zero3_save_16bit_model"}
    assert not not_here & set(c.deepspeed_config)
    assert c.mixed_precision is None
