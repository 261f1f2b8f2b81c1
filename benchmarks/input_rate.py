"""Images/s the training input pipeline alone delivers (no model): read, decode, augment, batch.

    python -m benchmarks.input_rate --data_dir=$CIFAR10_JPEG_DIR --pipeline=stream
    python -m benchmarks.input_rate --data_dir=/path/to/imagenet100 --preprocessing=imagenet \\
        --image_size=224 --batch_size=48                              # the 224 path
    python -m benchmarks.input_rate --data_dir=/tmp/imagenet_like --preprocessing=imagenet \\
        --image_size=224 --batch_size=4 --batches=3 --max_train_examples=12   # a quick check
    python -m benchmarks.input_rate --dataset=cifar10 --pipeline=stream   # TFDS ArrayRecord

A training step that takes longer than a batch takes here is not held up by its input. Loading
(listing, and for the in-memory path decoding everything) is timed apart from the batches; the
first batch (which fills the shuffle buffer and the prefetch) is timed apart too.
"""

import time

from absl import flags

from tf_fastls0 import data as data_lib
from tf_fastls0.data.config import DataConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError, run_main

settings.define_flags(DataConfig, only=("dataset", "data_dir", "tfds_data_dir", "tfds_download",
                                        "image_size", "pipeline", "preprocessing",
                                        "max_train_examples"))
flags.DEFINE_integer("batch_size", 128, "Images per batch.", lower_bound=1)
flags.DEFINE_integer("batches", 50, "Batches timed after the first.", lower_bound=1)
flags.DEFINE_bool("augment", True, "Augment as training does.")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
                        tfds_data_dir=FLAGS.tfds_data_dir, tfds_download=FLAGS.tfds_download,
                        image_size=FLAGS.image_size, pipeline=FLAGS.pipeline,
                        preprocessing=FLAGS.preprocessing,
                        max_train_examples=FLAGS.max_train_examples)
    started = time.perf_counter()
    splits = data_lib.load_data(config)
    loaded = time.perf_counter()
    if FLAGS.batch_size > len(splits.train):
        raise UsageError(f"--batch_size={FLAGS.batch_size} is larger than the "
                         f"{len(splits.train)} training images")
    epochs = -(-FLAGS.batches // data_lib.steps_per_epoch(splits.train, FLAGS.batch_size))
    batches = iter(data_lib.training_dataset(splits.train, FLAGS.batch_size, epochs + 1,
                                             augment=FLAGS.augment))
    next(batches)[0].numpy()
    first = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(batches)[0].numpy()
    done = time.perf_counter()
    path = type(splits.train).__name__
    print(f"{splits.name}: {len(splits.train)} training images as {path}, "
          f"shape {splits.image_shape}")
    print(f"load {loaded - started:.2f} s, first batch {first - loaded:.2f} s, "
          f"{FLAGS.batches * FLAGS.batch_size / (done - first):.1f} images/s after it")


if __name__ == "__main__":
    run_main(main)
