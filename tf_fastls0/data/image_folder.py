"""Image folders: ``<dir>/train/<class>/*`` and ``<dir>/test/<class>/*``, JPEG or PNG.

Classes are the sub-folder names sorted alphabetically; label i is the i-th name. Each split is
listed as ``ImageFiles`` and then either decoded once into memory (``ImageSet``) or left to be
streamed, as ``pipeline`` says (``auto``: in memory when it fits in ``MEMORY_LIMIT_BYTES``
decoded and its preprocessing allows it). Every problem is reported with its path.

``listing_fingerprint`` identifies what a folder holds without reading its images: per class
folder of each split, the number of image files, a hash of their names and one of their sizes
and modification times. A training run records it and a resumed run compares it
(``listing_changes``), since its soft-label and ATTA rows are keyed by an example's position in
the sorted listing, which a file added or removed moves for every later image.
"""

import hashlib
import os

import numpy as np
import tensorflow as tf

from tf_fastls0.data.config import MEMORY_LIMIT_BYTES
from tf_fastls0.data.image_files import CENTRE_CROP, KEEP, RESIZE, Decoding, ImageFiles
from tf_fastls0.data.image_set import PAD_CROP, RESIZED_CROP, DataError, DataSplits

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
SPLITS = ("train", "test")


def load_image_folder(root, image_size=None, channels=3, max_train=None, max_test=None, seed=0,
                      pipeline="auto", preprocessing="pad_crop"):
    """Both splits of ``root``. ``image_size`` resizes to a square (``pad_crop``) or is the
    crop size (``imagenet``, which needs it)."""
    if not os.path.isdir(root):
        raise DataError(f"data folder {root} does not exist")
    train_dir, test_dir = (os.path.join(root, split) for split in SPLITS)
    train_files = _list_class_files(train_dir)
    test_files = _list_class_files(test_dir)
    if sorted(train_files) != sorted(test_files):
        only_train = sorted(set(train_files) - set(test_files))
        only_test = sorted(set(test_files) - set(train_files))
        raise DataError(f"class folders of {train_dir} and {test_dir} differ: "
                        f"only in train {only_train}, only in test {only_test}")
    class_names = tuple(sorted(train_files))
    imagenet = preprocessing == "imagenet"
    train = _split(train_files, class_names, max_train, seed,
                   Decoding(KEEP, None, channels) if imagenet else _plain(image_size, channels),
                   RESIZED_CROP if imagenet else PAD_CROP, image_size)
    test = _split(test_files, class_names, max_test, seed,
                  Decoding(CENTRE_CROP, image_size, channels) if imagenet
                  else _plain(image_size, channels), PAD_CROP, image_size)
    return DataSplits(os.path.basename(os.path.normpath(root)),
                      _placed(train, pipeline), _placed(test, pipeline))


def in_memory(files, pipeline):
    """Whether a split goes into memory: asked for, or ``auto`` and small enough."""
    if files.augmentation != PAD_CROP or pipeline == "stream":
        return False
    decoded_bytes = len(files) * int(np.prod(files.image_shape))
    return pipeline == "memory" or decoded_bytes <= MEMORY_LIMIT_BYTES


def _placed(files, pipeline):
    return files.decoded() if in_memory(files, pipeline) else files


def _plain(image_size, channels):
    return Decoding(RESIZE, image_size, channels) if image_size else Decoding(KEEP, None, channels)


def _split(files_by_class, class_names, max_examples, seed, decoding, augmentation, image_size):
    paths = np.array([p for name in class_names for p in files_by_class[name]])
    labels = np.array([i for i, name in enumerate(class_names) for _ in files_by_class[name]],
                      dtype=np.int32)
    if max_examples is not None and max_examples < len(paths):
        chosen = np.sort(np.random.default_rng(seed).permutation(len(paths))[:max_examples])
        paths, labels = paths[chosen], labels[chosen]
    if image_size:
        shape = (image_size, image_size, decoding.channels)
    else:  # images kept at their size: the first one's, which decoding into memory checks
        shape = tuple(_decode_first(paths[0], decoding).shape)
    return ImageFiles(paths, labels, class_names, decoding, shape, augmentation)


def _decode_first(path, decoding):
    try:
        return decoding(path)
    except tf.errors.OpError:
        raise DataError(f"image {path} does not decode") from None


def listing_fingerprint(root):
    """``{"<split>/<class>": {"files": n, "names": sha256, "stats": sha256}}`` of the image files
    ``load_image_folder`` lists (names relative to the class folder; stats: size and modification
    time in ns). Reads the listing and each file's metadata, never the images."""
    found = {}
    for split in SPLITS:
        for name, paths in _list_class_files(os.path.join(root, split)).items():
            names, stats = hashlib.sha256(), hashlib.sha256()
            for path in paths:
                status = os.stat(path)
                names.update(os.path.basename(path).encode() + b"\0")
                stats.update(f"{status.st_size} {status.st_mtime_ns}\n".encode())
            found[f"{split}/{name}"] = {"files": len(paths), "names": names.hexdigest(),
                                        "stats": stats.hexdigest()}
    return found


def listing_changes(before, now):
    """What differs between two ``listing_fingerprint``s, one phrase per class folder, in
    order."""
    changes = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if new is None:
            changes.append(f"{key}: class folder gone ({old['files']} files)")
        elif old is None:
            changes.append(f"{key}: new class folder ({new['files']} files)")
        elif old["files"] != new["files"]:
            changes.append(f"{key}: {new['files']} image files, was {old['files']}")
        elif old["names"] != new["names"]:
            changes.append(f"{key}: other file names ({new['files']} files)")
        else:
            changes.append(f"{key}: same {new['files']} names, other sizes or modification times")
    return changes


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
