"""Which data the analyses see: the run's own data settings, overridden by flags, capped so that
the analysed training images are a subset of those the model was trained on."""

import numpy as np

from tf_fastls0.analysis.config import AnalysisConfig, expand_analyses
from tf_fastls0.analysis.context import data_config
from tf_fastls0.data import DataConfig, ImageSet

RUN = {"method": "sat", "data": {"dataset": "shapes10", "data_dir": "/data/cifar", "image_size": 32,
                                 "max_train_examples": 256, "max_eval_examples": None, "seed": 3}}


def test_the_run_data_is_used_and_capped_at_n_examples():
    resolved = data_config(AnalysisConfig(model=("run",), n_examples=16), RUN)
    assert resolved == DataConfig(dataset="shapes10", data_dir="/data/cifar", image_size=32,
                                  max_train_examples=16, max_eval_examples=16, seed=3)
    small_run = data_config(AnalysisConfig(model=("run",), n_examples=1000), RUN)
    assert (small_run.max_train_examples, small_run.max_eval_examples) == (256, 1000)


def test_flags_override_and_an_explicit_dataset_drops_the_run_image_folder():
    config = AnalysisConfig(model=("run",), n_examples=8,
                            data_overrides=(("dataset", "cifar10"), ("max_eval_examples", 4)))
    resolved = data_config(config, RUN)
    assert (resolved.dataset, resolved.data_dir, resolved.max_eval_examples) == ("cifar10", None, 4)
    assert data_config(AnalysisConfig(model=("m",), n_examples=8), None) == DataConfig(
        max_train_examples=8, max_eval_examples=8)


def test_a_smaller_subset_is_inside_the_run_subset():
    ids = np.arange(1000)  # labels as example ids
    data = ImageSet(np.zeros((1000, 1, 1, 1), np.uint8), ids, ("only",))
    run_subset = set(data.subset(256, seed=3).labels.tolist())
    analysed = data.subset(data_config(AnalysisConfig(model=("m",), n_examples=16),
                                       RUN).max_train_examples, seed=3)
    assert len(analysed) == 16 and set(analysed.labels.tolist()) <= run_subset


def test_all_expands_in_running_order():
    assert expand_analyses(("all",))[0] == "gradient_norm"
    assert expand_analyses(("interpolation", "hessian", "hessian")) == ("hessian", "interpolation")
