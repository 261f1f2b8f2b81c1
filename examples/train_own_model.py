"""Your own Keras model trained with Fast-LS-l0 inside ``fit()``, then attacked with
Sparse-AutoAttack (sAA).

    python examples/train_own_model.py                       # CIFAR-10, about an hour on a GPU
    python examples/train_own_model.py --train_images=64 --test_images=16 --epochs=1 \
        --batch_size=32 --filters=4 --eps=2 --iterations=2 --queries=2 --val_images=8  # seconds

The data is the CIFAR-10 image folder (``--data_dir``, default ``../shared/data/cifar10-jpeg``
beside the repository), read with Keras' own ``image_dataset_from_directory`` into numpy arrays:
``fit(x, y)`` on arrays attaches each image's index before Keras shuffles, so the self-adaptive
soft labels follow their image. Images are in [0, 1]; the model normalises them itself and
returns logits.
"""

import argparse
import pathlib

import keras
import numpy as np
import tensorflow as tf

import tf_fastls0

CIFAR10 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=str(CIFAR10))
    parser.add_argument("--train_images", type=int, default=50_000)
    parser.add_argument("--test_images", type=int, default=1_000)
    parser.add_argument("--val_images", type=int, default=200,
                        help="test images of the per-epoch robust validation")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--filters", type=int, default=64, help="width of the first block")
    parser.add_argument("--eps", type=int, default=20, help="l0 budget k (pixels) of sAA; "
                        "training uses 6k, the paper's rule")
    parser.add_argument("--iterations", type=int, default=1_000, help="sPGD iterations of sAA")
    parser.add_argument("--queries", type=int, default=1_000, help="Sparse-RS queries of sAA")
    parser.add_argument("--output", default="runs/example_own_model",
                        help="folder of the saved classifier, TensorBoard logs, sAA report")
    return parser.parse_args()


def images_of(folder, count, seed):
    """``count`` images of ``folder/<class>/*`` (a seeded random choice), as float32 [0, 1]."""
    stream = keras.utils.image_dataset_from_directory(
        folder, image_size=(32, 32), batch_size=None, shuffle=True, seed=seed)
    images, labels = zip(*stream.take(count).as_numpy_iterator())
    return np.stack(images) / np.float32(255.0), np.array(labels, np.int32)


def my_classifier(filters, classes=10):
    """A small functional CNN: images in [0, 1] -> logits (no softmax)."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Normalization(mean=MEAN, variance=np.square(STD))(inputs)
    for scale in (1, 2, 4):
        x = keras.layers.Conv2D(filters * scale, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="my_cnn")


def main():
    args = parse_args()
    output = pathlib.Path(args.output)
    keras.utils.set_random_seed(0)
    x_train, y_train = images_of(f"{args.data_dir}/train", args.train_images, seed=0)
    x_test, y_test = images_of(f"{args.data_dir}/test", args.test_images, seed=1)

    classifier = my_classifier(args.filters)
    model = tf_fastls0.SparseAdversarialModel(classifier, method="fast_ls_l0",
                                              train_eps=6 * args.eps)
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    model.compile(optimizer=keras.optimizers.SGD(
        keras.optimizers.schedules.CosineDecay(0.05, steps), momentum=0.9))
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_test, y_test), verbose=2, callbacks=[
                  tf_fastls0.RobustValidation(x_test[:args.val_images], y_test[:args.val_images],
                                              eps=args.eps, batch_size=args.batch_size),
                  tf_fastls0.CatastrophicOverfittingMonitor(str(output / "logs" / "validation")),
                  keras.callbacks.TensorBoard(str(output / "logs"))])
    model.save(output / "my_cnn.keras")  # the classifier alone, as built above

    report = tf_fastls0.evaluate_model(
        model=classifier, images=x_test, labels=y_test, eps=args.eps, iterations=args.iterations,
        queries=args.queries, batch_size=args.batch_size, progress=False,
        output_dir=str(output / f"saa_k{args.eps}"))
    print(f"sAA at k = {args.eps} pixels on {report['n_examples']} test images: clean "
          f"{report['clean_acc']:.1f} %, robust {report['robust_acc']:.1f} %")


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
