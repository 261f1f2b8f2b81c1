"""Fixtures of the evaluation tests: a tiny model from the real trainer, and its data."""

import pytest

from tf_fastls0.data import DataConfig, load_data

# The trainer's tiny run; its test split is 64 shapes10 images.
TRAIN_ARGS = ("--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
              "--max_train_examples=256", "--max_eval_examples=64", "--val_robust_examples=0")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, run_module):
    """A run folder of ``python -m tf_fastls0.train`` (saved_model/, model.keras, summary.json)."""
    run_dir = tmp_path_factory.mktemp("evaluation_run")
    result = run_module("tf_fastls0.train", *TRAIN_ARGS, f"--output_dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="session")
def splits():
    """The run's data: its 64 test images (one training image: evaluation never reads them)."""
    return load_data(DataConfig(max_eval_examples=64, max_train_examples=1))
