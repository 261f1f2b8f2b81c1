"""``benchmarks.input_rate`` runs on the 224 path of a tiny ImageNet-like folder and says what it
measured."""

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_input_rate_streams_the_224_path_and_reports_images_per_second(imagenet_like, tmp_path,
                                                                       run_module):
    imagenet_like.write_folder(str(tmp_path), classes=2, per_split={"train": 3, "test": 1},
                               min_side=40, max_side=60, seed=0)
    result = run_module("benchmarks.input_rate", f"--data_dir={tmp_path}",
                        "--preprocessing=imagenet", "--image_size=224", "--batch_size=2",
                        "--batches=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6 training images as ImageFiles, shape (224, 224, 3)" in result.stdout
    assert "images/s after it" in result.stdout
