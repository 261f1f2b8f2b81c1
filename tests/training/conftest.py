"""A tiny training run made in-process, for the tests of what a run does with its folder."""

import dataclasses
import shutil

import pytest

from tf_fastls0 import data as data_lib
from tf_fastls0.training.config import TrainConfig

# Fast-LS-l0 (so checkpoints hold the SAT soft labels too), 2 epochs of 2 steps on 32 shapes10
# images, a checkpoint after every step (ckpt-2, -3 and -4 are kept); float32 whatever the CPU
# (--mixed_precision's default, auto, is bfloat16 on one with AVX512-BF16 or AMX): the resume
# tests compare weights to the bit.
TINY = TrainConfig(model="small_cnn", width=0.25, epochs=2, batch_size=16, method="fast_ls_l0",
                   soft_label_start_epoch=0, train_eps=4, eval_eps=4, val_robust_examples=0,
                   checkpoint_every_steps=1, mixed_precision="off",
                   verbose=0, data=data_lib.DataConfig(max_train_examples=32, max_eval_examples=16))


def _tiny_config(output_dir, **changes):
    return dataclasses.replace(TINY, output_dir=str(output_dir), **changes)


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(output_dir, **changes)``: the ``TINY`` settings into ``output_dir``."""
    return _tiny_config


@pytest.fixture(scope="session")
def finished_tiny_run(built_once):
    """A finished ``TINY`` run, shared by the pytest-xdist workers; copy it (``copy_run``) before
    changing anything in it."""
    from tf_fastls0.training.run import train_and_evaluate

    finished = built_once("finished",
                          lambda folder: train_and_evaluate(_tiny_config(folder / "run")))
    return finished / "run"


@pytest.fixture
def copy_run(finished_tiny_run, tmp_path):
    """A fresh copy of ``finished_tiny_run`` in this test's folder."""
    def copy(name="run"):
        return shutil.copytree(finished_tiny_run, tmp_path / name)

    return copy
