"""Sharded and resumed evaluations give the report of one uninterrupted run (per-image records,
counts and accuracies), because each image is attacked with draws keyed by its test-split index."""

import json

import numpy as np
import pytest

from tf_fastls0.evaluation import REPORT_FILE, EvalConfig, comparable, evaluate_model, merge_reports
from tf_fastls0.evaluation.state import STATE_FILE
from tf_fastls0.utils.cli import UsageError

# 2 batches of 8 images: shard 0 of 2 takes batch 0, shard 1 takes batch 1.
SETTINGS = {"eps": 10, "iterations": 5, "queries": 20, "n_examples": 16, "batch_size": 8,
            "seed": 1, "progress": False}
OLD_KEYS = {"iterations": "iters", "queries": "rs_queries"}  # what the previous release wrote


def _evaluate(run, splits, output_dir, **overrides):
    config = EvalConfig(model=str(run / "saved_model"), output_dir=str(output_dir),
                        **{**SETTINGS, **overrides})
    return evaluate_model(config, splits)


@pytest.fixture(scope="module")
def unsharded(tiny_run, splits, tmp_path_factory):
    return _evaluate(tiny_run, splits, tmp_path_factory.mktemp("unsharded"))


def test_the_evaluation_has_something_to_compare(unsharded):
    codes = np.array(unsharded["images"]["broken_by"]["saa"])
    assert len(codes) == 16 and np.any(codes != 0)  # some images are classified correctly


def test_two_shards_merge_into_the_unsharded_report(unsharded, tiny_run, splits, tmp_path,
                                                    run_module):
    shards = [_evaluate(tiny_run, splits, tmp_path / f"shard{i}", shard_index=i, num_shards=2)
              for i in range(2)]
    assert [len(s["images"]["indices"]) for s in shards] == [8, 8]
    assert not set(shards[0]["images"]["indices"]) & set(shards[1]["images"]["indices"])
    merged = merge_reports(shards[::-1])
    assert comparable(merged) == comparable(unsharded)
    assert merged["attacks"]["saa"]["seconds"] == pytest.approx(
        sum(s["attacks"]["saa"]["seconds"] for s in shards))

    output = tmp_path / "merged.json"
    result = run_module("tf_fastls0.evaluation.merge",
                        f"--reports={tmp_path / 'shard0'},{tmp_path / 'shard1' / REPORT_FILE}",
                        f"--output={output}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert comparable(json.loads(output.read_text())) == comparable(json.loads(json.dumps(merged)))


def test_a_resumed_run_ends_with_the_uninterrupted_report(unsharded, tiny_run, splits,
                                                          tmp_path):
    partial = _evaluate(tiny_run, splits, tmp_path, max_batches=1)
    assert not partial["complete"] and partial["n_examples"] == 8
    assert (tmp_path / STATE_FILE).exists()
    with pytest.raises(UsageError, match="other settings .*eps"):
        _evaluate(tiny_run, splits, tmp_path, resume=True, eps=SETTINGS["eps"] + 1)

    resumed = _evaluate(tiny_run, splits, tmp_path, resume=True)
    assert resumed["complete"]
    assert comparable(resumed) == comparable(unsharded)


def _with_old_keys(values):
    return {OLD_KEYS.get(key, key): value for key, value in values.items()}


def test_a_state_an_older_version_saved_resumes(unsharded, tiny_run, splits, tmp_path):
    _evaluate(tiny_run, splits, tmp_path, max_batches=1)
    path = tmp_path / STATE_FILE
    with np.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    meta = json.loads(str(arrays["meta"]))
    meta["fingerprint"] = _with_old_keys(meta["fingerprint"])
    assert "iters" in meta["fingerprint"] and "iterations" not in meta["fingerprint"]
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)

    resumed = _evaluate(tiny_run, splits, tmp_path, resume=True)
    assert resumed["complete"] and comparable(resumed) == comparable(unsharded)


def test_a_shard_report_an_older_version_wrote_merges(unsharded, tiny_run, splits, tmp_path):
    shards = [_evaluate(tiny_run, splits, tmp_path / f"shard{i}", shard_index=i, num_shards=2)
              for i in range(2)]
    old = {**shards[0], "settings": _with_old_keys(shards[0]["settings"]),
           "budget": _with_old_keys(shards[0]["budget"])}
    merged = merge_reports([old, shards[1]])
    assert merged["settings"]["iterations"] == SETTINGS["iterations"]
    assert merged["budget"]["queries"] == SETTINGS["queries"]
    assert comparable(merged) == comparable(unsharded)


def test_an_input_file_rewritten_in_place_is_refused_by_resume_training_and_merging(
        tiny_run, splits, tmp_path):
    """The group map is named by a path, but what a run computes depends on its content: a map
    rewritten in place (same path, other groups) must not be mixed into one result."""
    from tf_fastls0.attacks.threat_config import ThreatConfig
    from tf_fastls0.evaluation.merging import MergeError
    from tf_fastls0.training import run_folder
    from tf_fastls0.training.config import TrainConfig

    group_map = tmp_path / "groups.npy"

    def write_map(side):  # square blocks of side x side pixels, one group each
        rows, columns = np.indices((32, 32)) // side
        np.save(group_map, (rows * (32 // side) + columns).astype(np.int32))

    write_map(4)
    threat = ThreatConfig(threat="groups", group_map=str(group_map))
    groups = dict(threat_model=threat, eps=2, attacks=("spgd_proj",), num_shards=2)
    first = _evaluate(tiny_run, splits, tmp_path / "shard0", shard_index=0, **groups)
    assert first["complete"] and first["settings"]["group_map_sha256"]
    whole = {**groups, "num_shards": 1}
    partial = _evaluate(tiny_run, splits, tmp_path / "partial", max_batches=1, **whole)
    assert not partial["complete"]
    training = TrainConfig(output_dir=str(tmp_path / "run"), threat_model=threat)
    (tmp_path / "run").mkdir()
    run_folder.claim(training)  # what a training run writes into its folder before training
    assert run_folder.plan(training) == run_folder.RESUME

    write_map(8)  # the same path, other groups
    with pytest.raises(UsageError, match=r"other settings \(group_map_sha256\)"):
        _evaluate(tiny_run, splits, tmp_path / "partial", resume=True, **whole)
    with pytest.raises(UsageError, match=r"holds a run with other settings \(group_map_sha256\)"):
        run_folder.plan(training)
    second = _evaluate(tiny_run, splits, tmp_path / "shard1", shard_index=1, **groups)
    with pytest.raises(MergeError, match="differ in group_map_sha256"):
        merge_reports([first, second])
