"""Where a command's images come from: the data settings shared by training, evaluation and
analysis (one flag each, defined once for all three)."""

import dataclasses
from typing import Optional

from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting

BUILTIN = "shapes10"
TFDS_NAMES = ("cifar10", "cifar100", "svhn_cropped", "mnist", "fashion_mnist")
PIPELINES = ("auto", "memory", "stream")
PREPROCESSINGS = ("pad_crop", "imagenet")
MEMORY_LIMIT_BYTES = 2 << 30  # auto keeps a split in memory up to this size decoded


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """``data_dir`` wins over ``dataset`` when given. ``seed`` (the command's own ``--seed``)
    chooses the capped subsets."""

    dataset: str = setting(
        BUILTIN, f"Data set by name: {BUILTIN!r} is built in (generated, no download); the others "
        "come from TFDS. Ignored when --data_dir is given.", choices=(BUILTIN,) + TFDS_NAMES)
    data_dir: Optional[str] = setting(
        None, "Image folder with train/<class>/* and test/<class>/* (JPEG or PNG); classes are "
        "the sub-folder names in sorted order.")
    tfds_data_dir: Optional[str] = setting(
        None, "Where TFDS keeps its data sets (TFDS' default if unset).")
    tfds_download: bool = setting(
        True, "Let TFDS download a data set it does not find in --tfds_data_dir.")
    image_size: Optional[int] = setting(
        None, "Resize image-folder images to this square size (e.g. 32 for GTSRB); unset keeps "
        "their size. With --preprocessing=imagenet, the size of the crops.", lower=1)
    max_train_examples: Optional[int] = setting(
        None, "Use a fixed random subset of at most this many training images.", lower=1)
    max_eval_examples: Optional[int] = setting(
        None, "Use a fixed random subset of at most this many test images.", lower=1)
    seed: int = setting(0, "Seed of the subsets (the command's --seed).", flag=False, lower=0,
                        upper=settings.MAX_SEED)
    pipeline: str = setting(
        "auto", "How image-folder and TFDS images reach the model: memory decodes them once and "
        "keeps them; stream reads and decodes each image when a batch needs it, in parallel, with "
        "memory bounded for any data set size; auto keeps a split in memory when it fits in "
        f"{MEMORY_LIMIT_BYTES >> 30} GiB decoded and its preprocessing allows it. Both give the "
        "same batches. TFDS data sets stream from ArrayRecord files (stored so, or converted "
        "by tfds convert_format); the built-in one is held in memory.", choices=PIPELINES,
        changes_results=False)
    preprocessing: str = setting(
        "pad_crop", "Image-folder preprocessing. pad_crop: images at their size (or "
        "--image_size); training crops them with 4-pixel zero padding and flips them (CIFAR). "
        "imagenet: training takes a random-resized crop of --image_size from the original "
        "image and flips it; testing resizes the shorter side to 256/224 of --image_size and "
        "centre-crops (torchvision's ImageNet recipe); the training split streams.",
        choices=PREPROCESSINGS)

    def __post_init__(self):
        settings.normalise(self)
        if self.preprocessing == "imagenet" and not self.image_size:
            raise UsageError("--preprocessing=imagenet needs --image_size (the crop size, e.g. "
                             "224)")
        if self.preprocessing == "imagenet" and self.pipeline == "memory":
            raise UsageError("--preprocessing=imagenet crops each original image afresh every "
                             "epoch, so its training split streams: use --pipeline=auto or "
                             "stream")


# How an image becomes the model's input: part of a trained model, whatever data it is shown.
MODEL_INPUT_SETTINGS = ("preprocessing", "image_size")


def with_overrides(run_data, overrides):
    """A run's data settings (``config.json``'s ``data`` dict, may be None) with the settings a
    command line gave (``(name, value)`` pairs) in their place. An explicit ``--dataset``
    without ``--data_dir`` replaces the run's image folder."""
    overrides = dict(overrides)
    if "dataset" in overrides and "data_dir" not in overrides:
        overrides["data_dir"] = None
    return settings.from_dict(DataConfig, {**(run_data or {}), **overrides})
