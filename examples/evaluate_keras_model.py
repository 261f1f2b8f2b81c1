"""Any Keras classifier under Sparse-AutoAttack (sAA) at several l0 budgets k.

    python examples/evaluate_keras_model.py --model=runs/example_own_model/my_cnn.keras
    python examples/evaluate_keras_model.py --train_epochs=5     # a keras.applications model
    python examples/evaluate_keras_model.py --model=small.keras --test_images=8 --ks=1,2 \
        --iterations=2 --queries=2                          # seconds with a small model (CI)

``--model``: a ``.keras`` file of any classifier taking images in [0, 1] to logits (the one
``train_own_model.py`` saves, say). Without it the classifier is ``keras.applications``'
MobileNetV3-Small built for 32x32 CIFAR-10 (no pretrained weights exist for that; ImageNet's
are for 224x224 and 1000 classes), trained here for ``--train_epochs`` with Fast-LS-l0 through
``tf_fastls0.SparseAdversarialModel``. Each k is one ``tf_fastls0.evaluate_model`` call on
numpy arrays, which returns the same report as ``python -m tf_fastls0.evaluate``.
"""

import argparse
import pathlib

import keras
import numpy as np
import tensorflow as tf

import tf_fastls0

CIFAR10 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras classifier (default: MobileNetV3-Small)")
    parser.add_argument("--data_dir", default=str(CIFAR10))
    parser.add_argument("--test_images", type=int, default=1_000)
    parser.add_argument("--train_images", type=int, default=50_000,
                        help="training images of the MobileNetV3-Small (without --model)")
    parser.add_argument("--train_epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--ks", default="5,10,20", help="comma-separated l0 budgets (pixels)")
    parser.add_argument("--iterations", type=int, default=1_000, help="sPGD iterations of sAA")
    parser.add_argument("--queries", type=int, default=1_000, help="Sparse-RS queries of sAA")
    return parser.parse_args()


def images_of(folder, count, seed):
    """``count`` images of ``folder/<class>/*`` (a seeded random choice), as float32 [0, 1]."""
    stream = keras.utils.image_dataset_from_directory(
        folder, image_size=(32, 32), batch_size=None, shuffle=True, seed=seed)
    images, labels = zip(*stream.take(count).as_numpy_iterator())
    return np.stack(images) / np.float32(255.0), np.array(labels, np.int32)


def mobilenet(classes=10):
    """keras.applications' MobileNetV3-Small for 32x32 images in [0, 1] -> logits."""
    inputs = keras.Input((32, 32, 3))
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), weights=None, classes=classes, classifier_activation=None,
        include_preprocessing=True)  # it takes [0, 255] and rescales itself
    return keras.Model(inputs, backbone(keras.layers.Rescaling(255.0)(inputs)),
                       name="mobilenet_v3_small")


def main():
    args = parse_args()
    keras.utils.set_random_seed(0)
    if args.model:
        classifier = keras.saving.load_model(args.model)
    else:
        classifier = mobilenet()
        x_train, y_train = images_of(f"{args.data_dir}/train", args.train_images, seed=0)
        model = tf_fastls0.SparseAdversarialModel(classifier, method="fast_ls_l0")
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.train_epochs,
                  verbose=2)
    x_test, y_test = images_of(f"{args.data_dir}/test", args.test_images, seed=1)

    print(f"{'k':>4}  {'clean %':>8}  {'robust %':>8}")
    for k in (int(k) for k in args.ks.split(",")):
        report = tf_fastls0.evaluate_model(model=classifier, images=x_test, labels=y_test, eps=k,
                                           iterations=args.iterations, queries=args.queries,
                                           batch_size=args.batch_size, progress=False)
        print(f"{k:>4}  {report['clean_acc']:>8.1f}  {report['robust_acc']:>8.1f}")


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
