"""Attack strength on real CIFAR-10: a normally trained tiny CNN has no l0 robustness to speak of.

Observed (2-core CPU; the fixture CNN, 30 epochs on 2,000 training images, 17 s):
sAA at eps = 20 with 20 iterations per sPGD stage and 100 RS queries on 200 test images:
clean 0.445 -> robust 0.005 (survivors 89 -> 3 after unprojected sPGD -> 1 after projected sPGD
-> 1 after RS), 5 s. Unprojected sPGD alone at eps = 3 on the 89 clean-correct images, seed 1:
5 steps break 23, 30 steps break 34 (a superset).
"""

import numpy as np

from tf_fastls0.attacks import SURVIVED, sparse_autoattack, sparse_pgd


def test_saa_at_eps_20_drives_robust_accuracy_far_below_clean(cifar_cnn):
    model_fn, images, labels = cifar_cnn
    batches = [(images[i:i + 100], labels[i:i + 100]) for i in range(0, len(images), 100)]
    result = sparse_autoattack(model_fn, batches, eps=20, iterations=20, queries=100, seed=0)
    report = result.report
    assert report["clean_accuracy"] > 0.3  # the fixture model learned something
    assert report["robust_accuracy"] <= 0.2 * report["clean_accuracy"]
    assert report["survivors"]["spgd_unproj"] < 0.5 * report["survivors"]["clean"]
    predictions = np.argmax(model_fn(result.adversarial).numpy(), axis=-1)
    np.testing.assert_array_equal(predictions == labels, result.broken_by == SURVIVED)


def test_more_spgd_iterations_are_at_least_as_strong(cifar_cnn):
    model_fn, images, labels = cifar_cnn
    correct = np.argmax(model_fn(images).numpy(), axis=-1) == labels
    images, labels = images[correct], labels[correct]
    few = sparse_pgd(model_fn, images, labels, eps=3, steps=5, seed=1).is_adversarial.numpy()
    many = sparse_pgd(model_fn, images, labels, eps=3, steps=30, seed=1).is_adversarial.numpy()
    assert many.sum() >= few.sum() > 0
    assert np.all(many[few])  # same seed: the longer run extends the shorter one
