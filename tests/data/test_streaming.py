"""The streaming path: image files decoded by tf.data on the fly give the batches the in-memory
path gives, and ``auto`` picks between them."""

import numpy as np
import pytest

from tf_fastls0.data import (DataConfig, ImageFiles, ImageSet, evaluation_dataset, load_data,
                             training_dataset)
from tf_fastls0.utils.cli import UsageError


def both_paths(folder, **settings):
    memory = load_data(DataConfig(data_dir=str(folder), pipeline="memory", **settings))
    stream = load_data(DataConfig(data_dir=str(folder), pipeline="stream", **settings))
    assert isinstance(memory.train, ImageSet) and isinstance(memory.test, ImageSet)
    assert isinstance(stream.train, ImageFiles) and isinstance(stream.test, ImageFiles)
    return memory, stream


@pytest.mark.parametrize("image_size", [None, 20])
def test_streaming_gives_the_in_memory_batches(cifar10_dir, image_size, assert_paths_agree):
    memory, stream = both_paths(cifar10_dir, image_size=image_size, max_train_examples=48,
                                max_eval_examples=20)
    assert memory.image_shape == stream.image_shape == (image_size or 32, image_size or 32, 3)
    np.testing.assert_array_equal(memory.train.labels, stream.train.labels)
    assert_paths_agree(memory, stream, batch_size=16, eval_batch_size=8, seed=7)
    subset = stream.test.subset(5, seed=2)
    np.testing.assert_array_equal(memory.test.subset(5, seed=2).images, subset.images_at())


def test_a_resumed_stream_continues_where_the_whole_one_was(cifar10_dir, collect,
                                                            assert_same_batches):
    _, stream = both_paths(cifar10_dir, max_train_examples=32, max_eval_examples=8)
    whole = collect(training_dataset(stream.train, 8, 2, seed=3))
    resumed = collect(training_dataset(stream.train, 8, 2, seed=3, start_epoch=1, skip_steps=1))
    assert_same_batches(whole[5:], resumed)


def test_auto_keeps_small_folders_in_memory_and_streams_imagenet_training(cifar10_dir):
    small = load_data(DataConfig(data_dir=str(cifar10_dir), max_train_examples=16,
                                 max_eval_examples=8))
    assert isinstance(small.train, ImageSet) and isinstance(small.test, ImageSet)
    imagenet = load_data(DataConfig(data_dir=str(cifar10_dir), max_train_examples=16,
                                    max_eval_examples=8, preprocessing="imagenet", image_size=24))
    assert isinstance(imagenet.train, ImageFiles) and isinstance(imagenet.test, ImageSet)
    assert imagenet.image_shape == imagenet.test.image_shape == (24, 24, 3)


def test_imagenet_test_images_are_the_same_on_both_paths(cifar10_dir, collect, assert_same_batches):
    memory = load_data(DataConfig(data_dir=str(cifar10_dir), max_train_examples=16,
                                  max_eval_examples=12, preprocessing="imagenet", image_size=28))
    stream = load_data(DataConfig(data_dir=str(cifar10_dir), max_train_examples=16,
                                  max_eval_examples=12, preprocessing="imagenet", image_size=28,
                                  pipeline="stream"))
    assert_same_batches(collect(evaluation_dataset(memory.test, 5)),
                        collect(evaluation_dataset(stream.test, 5)))


@pytest.mark.parametrize("settings, message", [
    ({"preprocessing": "imagenet"}, "--preprocessing=imagenet needs --image_size"),
    ({"preprocessing": "imagenet", "image_size": 8, "pipeline": "memory"},
     "its training split streams"),
])
def test_impossible_combinations_are_refused(settings, message):
    with pytest.raises(UsageError, match=message):
        DataConfig(data_dir="x", **settings)


@pytest.mark.parametrize("settings", [{"pipeline": "stream"},
                                      {"preprocessing": "imagenet", "image_size": 8}])
def test_streaming_and_imagenet_crops_need_an_image_folder(settings):
    with pytest.raises(UsageError, match="reads image folders"):
        load_data(DataConfig(**settings))
