"""Every shipped config file is loaded (and validated) by its typed dataclass."""

import json
from pathlib import Path

import pytest

from pipeline.config import load_config, load_yaml

REPO = Path(__file__).resolve().parent.parent
YAMLS = sorted((REPO / "configs").glob("*.yaml"))
JSONS = sorted((REPO / "configs").rglob("*.json"))


def config_class(data: dict):
    """Which dataclass a file is for: its top-level section, or the run-all/eval shape."""
    from data.curate import CurateConfig
    from data.difficulty import DifficultyConfig
    from eval.config import EvalConfig
    from pipeline.grpo.config import TrainConfig
    from pipeline.run_all import RunAllConfig

    for section, cls in (("curate", CurateConfig), ("difficulty", DifficultyConfig), ("train", TrainConfig)):
        if section in data:
            return cls, section
    if "stages" in data:
        return RunAllConfig, None
    return EvalConfig, None


def test_there_are_configs():
    assert len(YAMLS) >= 10 and JSONS


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_yaml_loads(path):
    cls, section = config_class(load_yaml(path))
    cfg = load_config(cls, path, section=section)
    assert isinstance(cfg, cls)


@pytest.mark.parametrize("path", JSONS, ids=[p.name for p in JSONS])
def test_deepspeed_json_parses(path):
    cfg = json.loads(path.read_text())
    assert cfg["zero_optimization"]["stage"] in (2, 3)


def test_demo_chain_references_earlier_stages():
    from pipeline.run_all import RunAllConfig

    cfg = load_config(RunAllConfig, REPO / "configs/demo.yaml")
    seen = set()
    for stage in cfg.stages:
        refs = {a[a.index("{") + 1:a.index("}")] for a in stage.args if "{" in a}
        assert refs <= seen, f"stage {stage.name} refers to later or unknown stages {refs - seen}"
        seen.add(stage.name)
    assert [s.name for s in cfg.stages] == ["curate", "train", "evaluate"]
