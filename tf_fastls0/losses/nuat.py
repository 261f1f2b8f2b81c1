"""NuAT, nuclear-norm adversarial training (Sriramanan et al., NeurIPS 2021), on sPGD examples.

Training loss (paper Eq. 3; reference code val-iisc/NuAT, ``CIFAR10/NuAT_cifar10.py``):

    CE(f(X), Y) + lambda * ||f(X') - f(X)||_* / sqrt(64 n),

f the logits, X the clean batch and X' its adversarial examples (as matrices, one row per
example), ||.||_* the nuclear norm (sum of singular values) of the n x K logit difference of the
whole (global) batch, n its size. The reference divides by its batch size, 64
(``TRAIN_BATCH_SIZE``), and its lambda is tuned for that: the singular values of an n x K matrix
of similar rows grow as sqrt(n), so ||D||_* / n falls as 1 / sqrt(n), and so does each example's
pull against the CE (its row's gradient is a row of U V^T / n). Measured on i.i.d. Gaussian
10-column rows: ||D||_* / n at n = 128, 256, 512 is 0.715, 0.508, 0.360 of its value at n = 64
(sqrt(64 / n): 0.707, 0.5, 0.354); so at our batch of 128 the reference's formula would be about
0.7x as strong. We divide by sqrt(64 n) instead (issue 23), which is the reference's ||D||_* / 64
at n = 64 and gives a batch of copies of 64 rows the regulariser of those 64 rows: lambda = 4.5
keeps the reference's strength at any batch size (``--nuat_weight=3.18`` is the reference's
formula at 128). The reference ramps lambda linearly from 0, adding
lambda_max / (epochs - 10) after each epoch, so epoch e (0-based) uses
lambda_max * min(e / (epochs - 10), 1); lambda_max = 4.5 for CIFAR-10 (``--nuat_weight``,
``--nuat_ramp_epochs``, default epochs - 10).

l0 adaptation and deviations: X' comes from the trainer's sPGD (1 step) with CE to the label.
NuAT's own attack starts from Bernoulli noise and, on every second batch, adds the nuclear-norm
term to the attack's CE; our sPGD has its own random start and no nuclear-norm attack loss. With
self-adaptive soft labels the clean CE is the SAT-weighted CE to the rows.

Under tf.distribute the nuclear norm is of the global batch: the K x K Gram matrix
G = sum over replicas of D_r^T D_r is all-reduced, ||D||_* = tr(G^(1/2)), and its gradient with
respect to a replica's rows D_r is D_r G^(-1/2) (= the rows of U V^T); each replica returns
<D_r, D_r G^(-1/2)> with the second factor held constant, whose sum over replicas is the norm
and whose gradient is exact.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils.settings import setting
REFERENCE_BATCH_SIZE = 64  # the reference's TRAIN_BATCH_SIZE, for which PAPER_LAMBDA is tuned
EPOCHS_AT_FULL_LAMBDA = 10  # the reference reaches lambda_max 10 epochs before the end


@dataclasses.dataclass(frozen=True)
class NuatSettings:
    weight: float = setting(
        4.5, "NuAT: final weight of the nuclear-norm regulariser ||D||_* / sqrt(64 n), the "
        "reference's ||D||_* / 64 at its batch of 64 at any batch size n.", lower=0.0, upper=1e4,
        old_names=("nuat_lambda",))
    ramp_epochs: Optional[int] = setting(
        None, "NuAT: epochs over which the regulariser weight ramps linearly from 0; default "
        "epochs - 10, as the reference.", lower=1)


def default_ramp_epochs(epochs):
    return max(epochs - EPOCHS_AT_FULL_LAMBDA, 1)


def ramp(epoch, ramp_epochs):
    """The fraction of lambda_max in 0-based ``epoch``: ``min(epoch / ramp_epochs, 1)``."""
    return tf.minimum(tf.cast(epoch, tf.float32) / float(ramp_epochs), 1.0)


def nuclear_norm_share(matrix):
    """This replica's share of the nuclear norm of the global-batch ``matrix`` (rows split over
    replicas): the shares sum to the norm and their gradients to its gradient."""
    rows = tf.cast(matrix, tf.float64)  # the Gram matrix squares the condition number
    gram = distributed.global_sum(tf.matmul(rows, rows, transpose_a=True))
    eigenvalues, eigenvectors = tf.linalg.eigh(gram)
    singular = tf.sqrt(tf.maximum(eigenvalues, 0.0))
    tolerance = tf.reduce_max(singular) * float(matrix.shape[-1]) * 1e-12
    inverse = tf.where(singular > tolerance, 1.0 / tf.maximum(singular, tolerance), 0.0)
    inverse_root = tf.matmul(eigenvectors * inverse, eigenvectors, transpose_b=True)
    direction = tf.stop_gradient(tf.matmul(rows, inverse_root))
    return tf.cast(tf.reduce_sum(rows * direction), matrix.dtype)


def nuat_loss(clean_logits, adv_logits, targets, weight=NuatSettings.weight,
              ramp_fraction=1.0):
    """NuAT's loss with lambda = ``weight * ramp_fraction``; ``adversarial`` is the norm /
    sqrt(64 n), n the global batch size, logged as ``nuclear_norm``."""
    clean = classification_term(clean_logits, targets)
    scale = tf.sqrt(REFERENCE_BATCH_SIZE * distributed.global_count(clean_logits))
    norm = nuclear_norm_share(adv_logits - clean_logits) / scale
    return ObjectiveTerms(clean + weight * ramp_fraction * norm, clean, norm)


def _ramp(epoch, settings):
    return ramp(epoch, settings.ramp_epochs)


def _resolve(settings, config):
    """The ramp's default length, from the run's epochs."""
    if settings.ramp_epochs is not None:
        return settings
    return dataclasses.replace(settings, ramp_epochs=default_ramp_epochs(config.epochs))


OBJECTIVE = Objective("nuat", nuat_loss, "NuAT", reads_clean=True, settings=NuatSettings,
                      ramp=_ramp, resolve=_resolve, log_names=("clean_loss", "nuclear_norm"))
