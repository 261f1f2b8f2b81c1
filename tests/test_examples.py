"""The ``examples/`` scripts run end to end on tiny settings (each as a user would run it)."""

import os
import subprocess
import sys

import pytest

TINY = {
    "train_own_model.py": ["--train_images=64", "--test_images=16", "--epochs=1",
                           "--batch_size=32", "--filters=4", "--eps=2", "--iterations=2",
                           "--queries=2", "--val_images=8"],
    # Any Keras model: a tiny one the test saves (MobileNetV3's graphs take minutes to trace on
    # 2 CPU cores; the default run builds and trains it).
    "evaluate_keras_model.py": ["--test_images=8", "--batch_size=8", "--ks=1,2", "--iterations=2",
                                "--queries=2"],
}


def tiny_keras_file(path):
    import keras

    inputs = keras.Input((32, 32, 3))
    hidden = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    keras.Model(inputs, keras.layers.Dense(10)(hidden)).save(path)
    return path


@pytest.mark.parametrize("script", sorted(TINY))
def test_the_example_runs_on_tiny_settings(script, cifar10_dir, repo, tmp_path):
    extra = (["--output", str(tmp_path)] if script == "train_own_model.py" else
             [f"--model={tiny_keras_file(tmp_path / 'tiny.keras')}"])
    result = subprocess.run(
        [sys.executable, str(repo / "examples" / script), f"--data_dir={cifar10_dir}",
         *TINY[script], *extra], cwd=tmp_path, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    if script == "train_own_model.py":
        assert "sAA at k = 2 pixels on 16 test images" in result.stdout
        assert (tmp_path / "my_cnn.keras").is_file()
        assert (tmp_path / "saa_k2" / "report.json").is_file()
    else:
        rows = [line.split() for line in result.stdout.splitlines()[-2:]]
        assert [row[0] for row in rows] == ["1", "2"]
        for _, clean, robust in rows:  # a clean mistake is a robust failure
            assert 0.0 <= float(robust) <= float(clean) <= 100.0
