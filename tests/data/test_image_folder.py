import shutil

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.data import DataConfig, DataError, load_data
from tf_fastls0.data.image_folder import load_image_folder
from tf_fastls0.utils.cli import UsageError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def test_cifar10_folder_loads_with_alphabetical_labels(cifar10_dir):
    splits = load_data(DataConfig(data_dir=str(cifar10_dir), max_train_examples=300,
                                  max_eval_examples=100))
    assert splits.train.class_names == CLASSES
    assert splits.train.images.shape == (300, 32, 32, 3)
    assert splits.test.images.shape == (100, 32, 32, 3)
    assert splits.train.images.dtype == np.uint8
    assert set(np.unique(splits.train.labels)) <= set(range(10))
    assert len(np.unique(splits.train.labels)) == 10  # the capped subset is spread over classes


def test_labels_follow_sorted_class_folders(cifar10_dir, tmp_path):
    for split in ("train", "test"):
        for name, count in (("zebra", 2), ("ant", 3)):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                shutil.copy(cifar10_dir / split / CLASSES[0] / f"{i:04d}.jpg",
                            tmp_path / split / name / f"{i}.jpg")
    splits = load_image_folder(str(tmp_path))
    assert splits.train.class_names == ("ant", "zebra")
    assert list(splits.train.labels) == [0, 0, 0, 1, 1]


def test_resize_option_gives_the_requested_size(cifar10_dir):
    splits = load_data(DataConfig(data_dir=str(cifar10_dir), image_size=16, max_train_examples=20,
                                  max_eval_examples=20))
    assert splits.train.image_shape == (16, 16, 3)


def make_folder(root, train_classes=("a", "b"), test_classes=("a", "b"), files=1):
    pixel = tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)).numpy()
    for split, classes in (("train", train_classes), ("test", test_classes)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(files):
                (folder / f"{i}.png").write_bytes(pixel)
    return root


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match=f"data folder {tmp_path / 'nope'} does not exist"):
        load_image_folder(str(tmp_path / "nope"))


def test_folder_without_classes_is_named(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    with pytest.raises(DataError, match="has no class sub-folders"):
        load_image_folder(str(tmp_path))


def test_empty_class_is_named(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "train" / "c").mkdir()
    (tmp_path / "test" / "c").mkdir()
    with pytest.raises(DataError, match=r"class folder .*train/c has no JPEG or PNG images"):
        load_image_folder(str(tmp_path))


def test_undecodable_file_is_named(tmp_path):
    make_folder(tmp_path, files=3)
    (tmp_path / "train" / "b" / "1.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"image .*train/b/1.png does not decode"):
        load_image_folder(str(tmp_path))


def test_differing_class_sets_are_named(tmp_path):
    make_folder(tmp_path, train_classes=("a", "b"), test_classes=("a", "c"))
    with pytest.raises(DataError, match=r"differ: only in train \['b'\], only in test \['c'\]"):
        load_image_folder(str(tmp_path))


def test_unknown_dataset_name_is_refused():
    with pytest.raises(UsageError, match="--dataset=imagenet9: choose one of shapes10, cifar10"):
        load_data(DataConfig(dataset="imagenet9"))


def test_a_folder_with_one_class_is_a_data_error(tmp_path):
    image = tf.io.encode_png(np.zeros([8, 8, 3], np.uint8)).numpy()
    for split in ("train", "test"):
        (tmp_path / split / "only").mkdir(parents=True)
        (tmp_path / split / "only" / "0.png").write_bytes(image)
    with pytest.raises(DataError, match=f"{tmp_path} has 1 class \\('only'\\); a classifier needs "
                                        "at least two"):
        load_data(DataConfig(data_dir=str(tmp_path)))
