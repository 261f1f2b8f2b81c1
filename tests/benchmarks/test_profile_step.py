"""``python -m benchmarks.profile_step`` on a tiny network: each kind of ablation is built, timed
and printed, the trace is written; the network copies really lack what they say."""

import json

import keras
import pytest

from tf_fastls0.models.preact_resnet import preact_resnet18

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)

# One variant of each kind: a network copy, a patched trainer, trackers switched off, the bare
# step and Keras fit with callbacks (relu, no_l2 and keras_fit take these same paths; the copies'
# layers are checked below).
VARIANTS = ("full,no_batchnorm,no_gradient_norm,no_metrics,bare,keras_fit_callbacks,"
            "keras_fit_grouped")


def test_the_ablations_are_timed_printed_and_traced(run_module, tmp_path):
    output, trace = tmp_path / "profile.json", tmp_path / "trace"
    result = run_module("benchmarks.profile_step", "--width=0.0625", "--batch_size=4",
                        "--image_size=8", "--rounds=1", "--steps_per_round=1", "--fit_steps=2",
                        "--fit_steps_per_execution=2",
                        f"--variants={VARIANTS}", f"--output={output}", f"--trace_dir={trace}",
                        "--trace_steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(output.read_text())
    rows = {row["variant"]: row for row in written["rows"]}
    assert list(rows) == VARIANTS.split(",")
    assert all(row["seconds_per_step"] > 0 for row in rows.values())
    assert rows["full"]["ratio_to_full"] == 1.0 and rows["full"]["share_of_full"] == 0.0
    assert "| no_batchnorm | BatchNorm -> identity |" in result.stdout
    assert list(trace.rglob("*.xplane.pb")), "no profiler trace written"
    # The trace's op time by op type: the convolutions' forward and both backwards are there.
    by_type = written["op_type_seconds_per_step"]
    assert all(value > 0 for value in by_type.values())
    assert {"Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput"} <= {
        name.replace("_MklNative", "").replace("_Mkl", "") for name in by_type}
    assert "| op type | s/step | share of op time |" in result.stdout


def test_grouped_steps_that_do_not_divide_the_fit_steps_are_refused(run_module):
    result = run_module("benchmarks.profile_step", "--fit_steps=10", "--fit_steps_per_execution=3")
    assert result.returncode == 2
    assert "--fit_steps_per_execution must divide --fit_steps" in result.stderr


def test_the_network_copies_lack_batchnorm_or_softplus():
    from benchmarks.network_variants import without

    network = preact_resnet18((8, 8, 3), 10, width=0.0625)
    no_batchnorm = without(network, "no_batchnorm")
    assert not [layer for layer in no_batchnorm.layers
                if isinstance(layer, keras.layers.BatchNormalization)]
    assert no_batchnorm.output_shape == network.output_shape
    relu = without(network, "relu")
    activations = [layer.get_config()["activation"] for layer in relu.layers
                   if isinstance(layer, keras.layers.Activation)]
    assert activations and set(activations) == {"relu"}
    assert relu.count_params() == network.count_params()
