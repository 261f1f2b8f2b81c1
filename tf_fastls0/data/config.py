"""Where a command's images come from: the data settings shared by training, evaluation and
analysis (one flag each, defined once for all three)."""

import dataclasses
from typing import Optional

from tf_fastls0.utils import settings
from tf_fastls0.utils.settings import setting

BUILTIN = "shapes10"
TFDS_NAMES = ("cifar10", "cifar100", "svhn_cropped", "mnist", "fashion_mnist")


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
        "their size.", lower=1)
    max_train_examples: Optional[int] = setting(
        None, "Use a fixed random subset of at most this many training images.", lower=1)
    max_eval_examples: Optional[int] = setting(
        None, "Use a fixed random subset of at most this many test images.", lower=1)
    seed: int = setting(0, "Seed of the subsets (the command's --seed).", flag=False, lower=0)

    def __post_init__(self):
        settings.normalise(self)
