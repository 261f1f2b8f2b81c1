"""`benchmarks.compaction_fidelity`: compaction keeps a real network's outcome."""

import json

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.batch_invariance import row_bits

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_a_small_trained_cnn_loses_no_broken_image_to_compaction(run_module, tmp_path):
    output = tmp_path / "fidelity.json"
    result = run_module("benchmarks.compaction_fidelity", "--width=0.25", "--images=40",
                        "--sizes=32,24,8,1", "--eps=3", "--iterations=20", "--queries=30",
                        f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert list(figures["row_bits"]) == ["32", "24", "8", "1"]
    assert all(0.0 <= share <= 1.0 for share in figures["row_bits"].values())
    assert sorted(figures["attacks"]) == ["rs_k3", "spgd_proj_k3", "spgd_unproj_k3"]
    for row in figures["attacks"].values():
        assert row["same_fooled_images"] and row["fooled_full"] == row["fooled_compacted"]
    # Some images fall and some resist, so "the same images" says something.
    assert 0 < figures["attacks"]["spgd_unproj_k3"]["fooled_full"] < figures["correct"]
    assert "| batch size | rows with the full batch's bits |" in result.stdout


def test_row_bits_finds_a_row_that_depends_on_the_batch():
    # A model whose first row's logits shift by a last-bit amount when other rows are present.
    def model_fn(images):
        logits = tf.reduce_sum(images, axis=[1, 2])
        return logits + 1e-6 * tf.cast(tf.shape(images)[0] > 1, tf.float32) * logits
    images = tf.constant(np.random.default_rng(0).uniform(size=(4, 2, 2, 3)), tf.float32)
    shares = row_bits(model_fn, images, tf.constant([0, 1, 2, 0]), [4, 2, 1])
    assert shares[4] == 1.0 and shares[2] == 1.0 and shares[1] == 0.0


def test_a_model_path_needs_the_images_to_attack_it_on(run_module, tmp_path):
    result = run_module("benchmarks.compaction_fidelity", f"--model_path={tmp_path}")
    assert result.returncode == 2
    assert "--model_path needs --data_dir" in result.stderr
