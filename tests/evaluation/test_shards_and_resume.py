"""Sharded and resumed evaluations give the report of one uninterrupted run (per-image records,
counts and accuracies), because each image is attacked with draws keyed by its test-split index."""

import json

import numpy as np
import pytest

from tf_fastls0.evaluation import REPORT_FILE, EvalConfig, comparable, evaluate_model, merge_reports
from tf_fastls0.evaluation.state import STATE_FILE
from tf_fastls0.utils.cli import UsageError

# 2 batches of 8 images: shard 0 of 2 takes batch 0, shard 1 takes batch 1.
SETTINGS = {"eps": 10, "iters": 5, "rs_queries": 20, "n_examples": 16, "batch_size": 8, "seed": 1,
            "progress": False}


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
