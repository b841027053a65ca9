"""Manifest round trip, tamper detection, atomic write."""

import json

import pytest

from pipeline.manifest import (
    Manifest,
    ManifestError,
    load_manifest,
    make_artifact,
    write_manifest,
)


def _write(tmp_path, content=b"a,b\n1,2\n"):
    (tmp_path / "data.csv").write_bytes(content)
    art = make_artifact(tmp_path, tmp_path / "data.csv", rows=1)
    m = Manifest(stage="demo", config={"x": 1, "nested": {"y": [1, 2]}}, fingerprint="f" * 64,
                 artifacts=[art], metrics={"rows": 1})
    write_manifest(tmp_path, m)
    return m


def test_round_trip(tmp_path):
    m = _write(tmp_path)
    back = load_manifest(tmp_path)
    assert back == m
    assert back.artifact("data.csv").rows == 1
    assert back.artifact("data.csv").bytes == 8
    assert back.environment["python"]
    assert "torch" in back.environment["packages"]


def test_flipping_one_byte_is_a_clear_error(tmp_path):
    _write(tmp_path)
    f = tmp_path / "data.csv"
    raw = bytearray(f.read_bytes())
    raw[0] ^= 0x01
    f.write_bytes(bytes(raw))
    with pytest.raises(ManifestError, match=r"artifact data.csv was modified after the stage finished"):
        load_manifest(tmp_path)


def test_missing_artifact_names_it(tmp_path):
    _write(tmp_path)
    (tmp_path / "data.csv").unlink()
    with pytest.raises(ManifestError, match=r"artifact data.csv is missing"):
        load_manifest(tmp_path)


def test_missing_manifest_says_run_the_stage(tmp_path):
    with pytest.raises(ManifestError, match=r"no manifest"):
        load_manifest(tmp_path)


def test_truncated_manifest_is_incomplete(tmp_path):
    _write(tmp_path)
    p = tmp_path / "manifest.json"
    p.write_text(p.read_text()[:50])
    with pytest.raises(ManifestError, match=r"incomplete or corrupt"):
        load_manifest(tmp_path)


def test_wrong_stage_is_refused(tmp_path):
    _write(tmp_path)
    with pytest.raises(ManifestError, match=r"expected a manifest of stage 'train', found 'demo'"):
        load_manifest(tmp_path, expect_stage="train")


def test_directory_artifacts_hash_every_file(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "a.bin").write_bytes(b"1")
    (d / "b.bin").write_bytes(b"2")
    m = Manifest(stage="demo", config={}, fingerprint="0", artifacts=[make_artifact(tmp_path, d)])
    write_manifest(tmp_path, m)
    load_manifest(tmp_path)
    (d / "b.bin").write_bytes(b"3")
    with pytest.raises(ManifestError, match="model was modified"):
        load_manifest(tmp_path)


def test_write_leaves_no_temporary_files(tmp_path):
    _write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "manifest.json"]
    json.loads((tmp_path / "manifest.json").read_text())
