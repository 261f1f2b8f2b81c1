"""Whether an image's attack depends on the batch it runs in: what ``compaction_fidelity``
measures (row bits at each batch size; compacted against full-batch attacks).

See that program's docstring for what the figures mean; this module holds no flags, so tests and
other programs can import it.
"""

import keras
import numpy as np
import tensorflow as tf

from benchmarks.stage_cost import TRAIN_EPOCHS, trained_shapes_model
from tf_fastls0.attacks import sparse_pgd, sparse_rs
from tf_fastls0.data.image_folder import load_image_folder
from tf_fastls0.models import build_model
from tf_fastls0.models.loading import load_model

ATTACKS = {
    "spgd_unproj": lambda fn, x, y, eps, n, seed, compact: sparse_pgd(
        fn, x, y, eps=eps, iterations=n, seed=seed, compact=compact),
    "spgd_proj": lambda fn, x, y, eps, n, seed, compact: sparse_pgd(
        fn, x, y, eps=eps, iterations=n, projected=True, seed=seed, compact=compact),
    "rs": lambda fn, x, y, eps, n, seed, compact: sparse_rs(
        fn, x, y, eps=eps, queries=n, seed=seed, compact=compact),
}


def row_bits(model_fn, images, labels, sizes):
    """Per size n: the share of the first n rows whose logits and input gradient have the full
    batch's bits when run n at a time."""
    @tf.function(reduce_retracing=True)
    def logits_and_gradient(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model_fn(x)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        return logits, tape.gradient(loss, x)

    full_logits, full_gradient = (t.numpy() for t in logits_and_gradient(images, labels))
    shares = {}
    for n in sizes:
        logits, gradient = (t.numpy() for t in logits_and_gradient(images[:n], labels[:n]))
        same = (np.all(logits == full_logits[:n], axis=1)
                & np.all((gradient == full_gradient[:n]).reshape(n, -1), axis=1))
        shares[n] = float(same.mean())
    return shares


def attack_outcomes(model_fn, images, labels, eps_values, iterations, queries, seed):
    """Per attack and eps: fooled compacted / not, same fooled images, differing adversarial
    images, largest difference in the returned images' loss."""
    outcomes = {}
    for name, attack in ATTACKS.items():
        budget = queries if name == "rs" else iterations
        for eps in eps_values:
            results = [tf.function(lambda x, y, c=compact: attack(
                model_fn, x, y, eps, budget, seed, c))(images, labels)
                for compact in (False, True)]
            full, compacted = ({"fooled": r.is_adversarial.numpy(),
                                "adversarial": r.adversarial.numpy(),
                                "loss": r.loss.numpy()} for r in results)
            differing = np.any((full["adversarial"] != compacted["adversarial"])
                               .reshape(len(images), -1), axis=1)
            outcomes[f"{name}_k{eps}"] = {
                "fooled_full": int(full["fooled"].sum()),
                "fooled_compacted": int(compacted["fooled"].sum()),
                "same_fooled_images": bool(np.array_equal(full["fooled"], compacted["fooled"])),
                "differing_adversarial_images": int(differing.sum()),
                "max_loss_difference": float(np.max(np.abs(full["loss"] - compacted["loss"]),
                                                    initial=0.0)),
            }
    return outcomes


def network_and_images(data_dir, model_path, model_name, width, train_images, epochs,
                       count, seed):
    """``(model_fn, images, labels, description)``: the network in inference mode and ``count``
    test images in [0, 1]."""
    if data_dir is None:
        net, images, labels = trained_shapes_model(model_name, width, 32, count, seed)
        return ((lambda x: net(x, training=False)), images, labels,
                f"{model_name} x{width:g}, {TRAIN_EPOCHS} epochs on shapes10")
    data = load_image_folder(data_dir, max_train=train_images, max_test=count, seed=seed,
                             pipeline="memory")
    images = data.test.images.astype(np.float32) / 255.0
    labels = data.test.labels.astype(np.int32)
    if model_path:
        return load_model(model_path).model_fn, images, labels, model_path
    keras.utils.set_random_seed(seed)
    net = build_model(model_name, data.image_shape, data.num_classes, width=width)
    net.compile(keras.optimizers.Adam(3e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(data.train.images.astype(np.float32) / 255.0, data.train.labels, batch_size=64,
            epochs=epochs, verbose=0)
    return ((lambda x: net(x, training=False)), images, labels,
            f"{model_name} x{width:g}, {epochs} epochs on {len(data.train.images)} images")
