"""Image folders: ``<dir>/train/<class>/*`` and ``<dir>/test/<class>/*``, JPEG or PNG.

Classes are the sub-folder names sorted alphabetically; label i is the i-th name. Files are
decoded once, in parallel with tf.data, into memory; every problem is reported with its path.
"""

import os

import numpy as np
import tensorflow as tf

from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def load_image_folder(root, image_size=None, channels=3, max_train=None, max_test=None, seed=0):
    """Loads ``root/train`` and ``root/test``; ``image_size`` (an int) resizes to a square."""
    if not os.path.isdir(root):
        raise DataError(f"data folder {root} does not exist")
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    train_files = _list_class_files(train_dir)
    test_files = _list_class_files(test_dir)
    if sorted(train_files) != sorted(test_files):
        only_train = sorted(set(train_files) - set(test_files))
        only_test = sorted(set(test_files) - set(train_files))
        raise DataError(f"class folders of {train_dir} and {test_dir} differ: "
                        f"only in train {only_train}, only in test {only_test}")
    class_names = tuple(sorted(train_files))
    train = _decode_split(train_files, class_names, image_size, channels, max_train, seed)
    test = _decode_split(test_files, class_names, image_size, channels, max_test, seed)
    return DataSplits(os.path.basename(os.path.normpath(root)), train, test)


def _list_class_files(split_dir):
    if not os.path.isdir(split_dir):
        raise DataError(f"data folder {split_dir} does not exist")
    classes = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
    if not classes:
        raise DataError(f"data folder {split_dir} has no class sub-folders")
    files = {}
    for name in classes:
        class_dir = os.path.join(split_dir, name)
        images = sorted(f for f in os.listdir(class_dir) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not images:
            raise DataError(f"class folder {class_dir} has no JPEG or PNG images")
        files[name] = [os.path.join(class_dir, f) for f in images]
    return files


def _decode_split(files_by_class, class_names, image_size, channels, max_examples, seed):
    paths = [p for name in class_names for p in files_by_class[name]]
    labels = np.array([i for i, name in enumerate(class_names) for _ in files_by_class[name]],
                      dtype=np.int32)
    if max_examples is not None and max_examples < len(paths):
        chosen = np.sort(np.random.default_rng(seed).permutation(len(paths))[:max_examples])
        paths, labels = [paths[i] for i in chosen], labels[chosen]
    images = _decode_all(paths, image_size, channels)
    return ImageSet(images, labels, class_names)


def _decode_all(paths, image_size, channels):
    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        if image_size:
            image = tf.image.resize(image, [image_size, image_size], antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return image

    dataset = tf.data.Dataset.from_tensor_slices(paths).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    try:
        images = [image.numpy() for image in dataset]
    except tf.errors.OpError:
        raise DataError(f"image {_first_undecodable(paths, channels)} does not decode") from None
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise DataError(f"images of {os.path.dirname(os.path.dirname(paths[0]))} differ in size "
                        f"({sorted(shapes)[:3]}...); pass an image size to resize them")
    return np.stack(images)


def _first_undecodable(paths, channels):
    for path in paths:
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        except tf.errors.OpError:
            return path
    return "(unknown)"
