"""Attack strength on real CIFAR-10: a normally trained tiny CNN has no l0 robustness to speak of.

Observed (2-core CPU; the fixture CNN, 30 epochs on 2,000 training images, 17 s):
sAA at eps = 20 with 20 iterations per sPGD stage and 100 RS queries on 200 test images:
clean 0.445 -> robust 0.005 (survivors 89 -> 3 after unprojected sPGD -> 1 after projected sPGD
-> 1 after RS), 5 s. Unprojected sPGD alone at eps = 3 on the 89 clean-correct images, seed 1:
5 steps break 23, 30 steps break 34 (a superset).

The attacks of the paper's other columns, on the same model and images (figures in each test).
"""

import numpy as np
import pytest

from tf_fastls0.attacks import SURVIVED, sparse_autoattack, sparse_pgd
from tf_fastls0.attacks.cornersearch import cornersearch
from tf_fastls0.attacks.saif import saif
from tf_fastls0.attacks.sigma_zero import sigma_zero
from tf_fastls0.evaluation.robust_curve import robust_acc_by_k

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def test_saa_at_eps_20_drives_robust_accuracy_far_below_clean(cifar_cnn):
    model_fn, images, labels = cifar_cnn
    batches = [(images[i:i + 100], labels[i:i + 100]) for i in range(0, len(images), 100)]
    result = sparse_autoattack(model_fn, batches=batches, eps=20, iterations=20, queries=100,
                               seed=0)
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
    few = sparse_pgd(model_fn, images, labels, eps=3, iterations=5, seed=1).is_adversarial.numpy()
    many = sparse_pgd(model_fn, images, labels, eps=3, iterations=30, seed=1).is_adversarial.numpy()
    assert many.sum() >= few.sum() > 0
    assert np.all(many[few])  # same seed: the longer run extends the shorter one


def _correct(cifar_cnn, count=None):
    model_fn, images, labels = cifar_cnn
    correct = np.argmax(model_fn(images).numpy(), axis=-1) == labels
    return model_fn, images[correct][:count], labels[correct][:count], correct.mean()


def test_saif_at_eps_20_breaks_most_correct_images(cifar_cnn):
    # Observed: 100 steps at eps = 20 break 77 of the 89 clean-correct images (robust accuracy
    # 0.445 -> 0.06; 30 steps: 75; eps = 10, 100 steps: 53), 2 s. The fixture model is trained
    # where the test runs and differs between environments: in December 2026's (torch and ART
    # installed beside TensorFlow) it reaches 0.415 clean and SAIF breaks 72 %. The bar is
    # "most", with room for that spread.
    model_fn, images, labels, clean = _correct(cifar_cnn)
    fooled = saif(model_fn, images, labels, eps=20, iterations=100, seed=0).is_adversarial.numpy()
    assert clean > 0.3 and fooled.mean() >= 0.6  # robust accuracy <= 0.4 * clean


def test_cornersearch_at_eps_10_breaks_most_correct_images(cifar_cnn):
    # Observed: eps = 10 (the reference tries 1, then 2 .. 9 pixels), 100 candidates per sparsity
    # and class, on the first 16 clean-correct images: 11 broken (changing 1 to 9 pixels; eps = 3:
    # 7), 40 s, mostly the 8,192 one-pixel candidates per image. With December 2026's fixture
    # model (see above): 9 of 16.
    model_fn, images, labels, _ = _correct(cifar_cnn, count=16)
    result = cornersearch(model_fn, images, labels, eps=10, queries=100, seed=0)
    assert result.is_adversarial.numpy().mean() >= 0.5


def test_sigma_zero_curve_falls_far_below_clean_by_k_20(cifar_cnn):
    # Observed: 100 steps on the 200 images, robust accuracy at k = 0, 1, 3, 5, 10, 20:
    # 44.5, 39.0, 33.0, 26.5, 15.0, 4.5 %, 16 s.
    model_fn, images, labels = cifar_cnn
    pixels = sigma_zero(model_fn, images, labels, iterations=100).pixels.numpy()
    curve = robust_acc_by_k(pixels)
    clean = curve["0"]
    assert clean > 30.0 and curve.get("20", curve[max(curve, key=int)]) <= 0.2 * clean
