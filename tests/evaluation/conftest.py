"""Fixtures of the evaluation tests: the data of the shared tiny run (``tiny_run``, tests/conftest.py)."""

import pytest

from tf_fastls0.data import DataConfig, load_data


@pytest.fixture(scope="session")
def splits():
    """The run's data: its 64 test images (one training image: evaluation never reads them)."""
    return load_data(DataConfig(max_eval_examples=64, max_train_examples=1))
