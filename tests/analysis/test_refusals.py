"""Analyses that cannot work stop before anything is written: the output folder stays as it was."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.analysis.config import AnalysisConfig
from tf_fastls0.analysis.context import AnalysisError
from tf_fastls0.analysis.runner import run_analyses


def three_class_folder(root):
    """An image folder of random 32x32 RGB images in three classes."""
    pixels = np.random.default_rng(0).integers(0, 256, [2, 32, 32, 3], np.uint8)
    for split in ("train", "test"):
        for name in ("a", "b", "c"):
            (root / split / name).mkdir(parents=True)
            for i, image in enumerate(pixels):
                (root / split / name / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def test_a_model_for_other_classes_is_refused_leaving_no_output(tiny_run, tmp_path):
    data_dir = three_class_folder(tmp_path / "three")
    config = AnalysisConfig(model=(str(tiny_run),), analysis=("gradient_norm", "hessian"),
                            output_dir=str(tmp_path / "analysis"),
                            data_overrides=(("data_dir", str(data_dir)),), n_examples=4)
    with pytest.raises(AnalysisError, match="model 'tiny_run.*' gives 10 class scores but three "
                                            "has 3 classes"):
        run_analyses(config)
    assert not (tmp_path / "analysis").exists()


def test_a_run_without_logs_is_refused_before_the_settings_are_written(tiny_run, tmp_path):
    output_dir = tmp_path / "analysis"
    output_dir.mkdir()
    (output_dir / "mine.txt").write_text("kept")
    alone = shutil.copy(tiny_run / "model.keras", tmp_path / "alone.keras")  # no run folder
    config = AnalysisConfig(model=(str(alone),), analysis=("gradient_norm", "hessian"),
                            output_dir=str(output_dir))
    with pytest.raises(AnalysisError, match="has no training logs"):
        run_analyses(config)
    assert [path.name for path in output_dir.iterdir()] == ["mine.txt"]


def test_more_hessian_eigenvalues_than_parameters_are_refused_leaving_no_output(tiny_run,
                                                                                tmp_path):
    config = AnalysisConfig(model=(str(tiny_run),), analysis=("hessian",), n_examples=4,
                            top_k=10**9, output_dir=str(tmp_path / "analysis"))
    with pytest.raises(AnalysisError, match=r"^--top_k=1000000000: model 'tiny_run\S*' has only "
                                            r"\d+ trainable parameters"):
        run_analyses(config)
    assert not (tmp_path / "analysis").exists()
