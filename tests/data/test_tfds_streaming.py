"""TFDS data sets: streamed from their ArrayRecord files they give the in-memory batches; stored as
TFRecord they are held in memory, and streaming them is refused with what to do.

The data sets are tiny ones made here with ``tfds.dataset_builders.store_as_tfds_dataset`` (no
download), stored unshuffled so the examples keep the order they were given in: a ``cifar10``
(the registered builder reads it, so ``--dataset=cifar10 --tfds_data_dir`` finds it) of random
images as ArrayRecord, and ``tiny_tfrecord`` as TFRecord."""

import importlib.resources
import re
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.data import DataConfig, DataError, ImageSet, load_data, training_dataset
from tf_fastls0.data import image_folder
from tf_fastls0.data.streamed_split import READ_ERRORS
from tf_fastls0.data.tfds_records import TfdsRecords
from tf_fastls0.data.tfds_source import load_tfds

SHAPE = (32, 32, 3)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
SIZES = {"train": 40, "test": 12}


def _store(name, data_dir, file_format):
    try:
        import importlib_resources  # noqa: F401
    except ImportError:  # a TFDS dependency some installs lack; only the store path needs it
        sys.modules["importlib_resources"] = importlib.resources
    import tensorflow_datasets as tfds

    rng = np.random.default_rng(0)
    arrays = {split: (rng.integers(0, 256, (n, *SHAPE), dtype=np.uint8),
                      rng.integers(0, len(CLASSES), n)) for split, n in SIZES.items()}
    features = tfds.features.FeaturesDict({  # CIFAR-10's features
        "id": tfds.features.Text(), "image": tfds.features.Image(shape=SHAPE),
        "label": tfds.features.ClassLabel(names=CLASSES)})
    registered = name in tfds.list_builders()
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name, version=str(tfds.builder_cls(name).VERSION) if registered else "1.0.0",
        features=features, data_dir=str(data_dir), file_format=file_format,
        disable_shuffling=True,
        split_datasets={split: tf.data.Dataset.from_tensor_slices(
            {"id": [f"{split}_{i}".encode() for i in range(len(labels))], "image": images,
             "label": labels}) for split, (images, labels) in arrays.items()})
    return arrays


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """The folder of the two data sets, with the arrays each was made from."""
    data_dir = tmp_path_factory.mktemp("tfds")
    made = {name: _store(name, data_dir, file_format) for name, file_format in
            (("cifar10", "array_record"), ("tiny_tfrecord", "tfrecord"))}
    return data_dir, made


def cifar10(data_dir, pipeline, **settings):
    return load_data(DataConfig(dataset="cifar10", tfds_data_dir=str(data_dir),
                                tfds_download=False, pipeline=pipeline, **settings))


def both_paths(data_dir, **settings):
    memory, stream = (cifar10(data_dir, pipeline, **settings) for pipeline in ("memory", "stream"))
    assert isinstance(memory.train, ImageSet) and isinstance(memory.test, ImageSet)
    assert isinstance(stream.train, TfdsRecords) and isinstance(stream.test, TfdsRecords)
    return memory, stream


def test_streamed_records_give_the_in_memory_batches(tfds_dir, assert_paths_agree):
    data_dir, made = tfds_dir
    memory, stream = both_paths(data_dir)
    images, labels = made["cifar10"]["train"]
    np.testing.assert_array_equal(memory.train.images, images)  # stored order, lossless
    np.testing.assert_array_equal(stream.train.labels, labels)
    assert memory.train.class_names == stream.train.class_names == CLASSES
    assert memory.image_shape == stream.image_shape == SHAPE
    assert_paths_agree(memory, stream, batch_size=8, eval_batch_size=5, seed=5)


def test_capped_splits_choose_the_same_examples_either_way(tfds_dir, collect, assert_same_batches):
    memory, stream = both_paths(tfds_dir[0], max_train_examples=16, max_eval_examples=5, seed=3)
    assert len(stream.train) == 16 and len(stream.test) == 5
    np.testing.assert_array_equal(memory.train.images, stream.train.images_at())
    np.testing.assert_array_equal(memory.test.labels, stream.test.labels)
    assert_same_batches(collect(training_dataset(memory.train, 8, 2, seed=1)),
                        collect(training_dataset(stream.train, 8, 2, seed=1)))


def test_a_resumed_record_stream_continues_where_the_whole_one_was(tfds_dir, collect,
                                                                   assert_same_batches):
    _, stream = both_paths(tfds_dir[0])
    whole = collect(training_dataset(stream.train, 8, 2, seed=3))
    resumed = collect(training_dataset(stream.train, 8, 2, seed=3, start_epoch=1, skip_steps=2))
    assert_same_batches(whole[7:], resumed)


def test_auto_streams_records_only_when_they_do_not_fit(tfds_dir, monkeypatch):
    assert isinstance(cifar10(tfds_dir[0], "auto").train, ImageSet)
    monkeypatch.setattr(image_folder, "MEMORY_LIMIT_BYTES", 100)
    assert isinstance(cifar10(tfds_dir[0], "auto").train, TfdsRecords)


def test_a_tfrecord_data_set_is_held_in_memory_and_streaming_it_says_how_to_convert(tfds_dir):
    data_dir, made = tfds_dir
    for pipeline in ("auto", "memory"):
        splits = load_tfds("tiny_tfrecord", str(data_dir), download=False, pipeline=pipeline)
        np.testing.assert_array_equal(splits.test.images, made["tiny_tfrecord"]["test"][0])
    with pytest.raises(DataError, match="is stored as TFRecord.*tfds convert_format.*"
                                        "--pipeline=memory"):
        load_tfds("tiny_tfrecord", str(data_dir), download=False, pipeline="stream")


@pytest.mark.parametrize("folder", ["missing", "empty", "holds another data set"])
@pytest.mark.parametrize("pipeline", ["stream", "memory", "auto"])
def test_a_folder_without_the_data_set_says_there_is_no_data_there(folder, pipeline, tfds_dir,
                                                                   tmp_path):
    """Not "stored as TFRecord, convert it": there is nothing there to convert."""
    data_dir = {"missing": tmp_path / "nowhere", "empty": tmp_path,
                "holds another data set": tfds_dir[0]}[folder]
    name = "cifar100" if folder == "holds another data set" else "cifar10"
    with pytest.raises(DataError, match=f"^there is no TFDS data set '{name}' in {data_dir} "
                                        r"\(no .*\); pass the --tfds_data_dir that holds it"):
        load_data(DataConfig(dataset=name, tfds_data_dir=str(data_dir), tfds_download=False,
                             pipeline=pipeline))


def test_a_record_that_fails_midway_is_named(tfds_dir, tmp_path):
    """The ArrayRecord file damaged after the listing: the record that no longer reads is
    found and named, as a deleted image file is (tests/training/test_stream_errors.py)."""
    import shutil

    data_dir = shutil.copytree(tfds_dir[0], tmp_path / "tfds")
    splits = cifar10(data_dir, "stream")
    (shard,) = data_dir.glob("cifar10/*/cifar10-train.array_record*")
    size = shard.stat().st_size
    with open(shard, "r+b") as handle:  # the same size, its records overwritten
        handle.write(b"\0" * (size - 1024))
    with pytest.raises(READ_ERRORS) as failed:
        for _ in training_dataset(splits.train, 8, 1):
            pass
    found = splits.train.unreadable(failed.value)
    assert re.fullmatch(rf"cannot read record \d+ of TFDS cifar10 train in {data_dir}\S*: .+",
                        found), found
