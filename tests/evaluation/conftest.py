"""Fixtures of the evaluation tests: a tiny model trained by the real trainer, its data, a budget."""

import pytest

from tf_fastls0.data import DataConfig, load_data

# The trainer's tiny run; its test split is 64 shapes10 images.
TRAIN_ARGS = ("--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
              "--max_train_examples=256", "--max_eval_examples=64", "--val_robust_examples=0")
DATA = DataConfig(max_eval_examples=64, max_train_examples=1)  # the run's test split


@pytest.fixture(scope="session")
def tiny_budget():
    """An attack budget that takes about a second per batch of the tiny model."""
    return {"eps": 10, "iters": 5, "rs_queries": 20}


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, run_module):
    """A run folder of ``python -m tf_fastls0.train`` (saved_model/, model.keras, summary.json)."""
    run_dir = tmp_path_factory.mktemp("evaluation_run")
    result = run_module("tf_fastls0.train", *TRAIN_ARGS, f"--output_dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="session")
def splits():
    return load_data(DATA)
