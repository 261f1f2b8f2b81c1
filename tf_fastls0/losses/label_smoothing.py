"""Adversarial training with label smoothing (Szegedy et al., CVPR 2016) on sPGD examples.

Loss: ``CE(f(x'), (1 - a) onehot(y) + a / K)`` averaged over the (global) batch, x' the sPGD
example (1 step, CE to the hard label), K the number of classes. The Fast-LS-l0 paper lists label
smoothing among its baselines without, as far as we could find, giving its factor a; we use
a = 0.1, Szegedy et al.'s value (``--label_smoothing_factor``).

With self-adaptive soft labels (``+S&N``) the rows are smoothed the same way,
``(1 - a) t + a / K``, and weighted as SAT weights them (``w = max_j`` of the smoothed row).
"""

import dataclasses
import warnings

import tensorflow as tf

from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils import settings
from tf_fastls0.utils.settings import setting


@settings.accepts_flat_keys
@dataclasses.dataclass(frozen=True)
class LabelSmoothingSettings:
    factor: float = setting(0.1, "label_smoothing: smoothing factor a of the targets.",
                            lower=0.0, upper=1.0, old_names=("label_smoothing",),
                            old_field_names=("smoothing",))

    @property
    def smoothing(self):
        """Deprecated: ``factor``."""
        warnings.warn("LabelSmoothingSettings.smoothing is deprecated; use .factor",
                      DeprecationWarning, stacklevel=2)
        return self.factor


def smoothed_targets(targets, num_classes, factor):
    """Rows ``(1 - a) t + a / K`` of int labels (one-hot t) or of soft rows."""
    targets = tf.convert_to_tensor(targets)
    if targets.shape.rank == 1:
        targets = tf.one_hot(tf.cast(targets, tf.int32), num_classes)
    return (1.0 - factor) * tf.cast(targets, tf.float32) + factor / num_classes


def label_smoothing_loss(clean_logits, adv_logits, targets,
                         factor=LabelSmoothingSettings.factor, smoothing=None):
    """CE of the adversarial logits to the smoothed targets (``clean_logits`` unused);
    ``smoothing``: ``factor``'s old keyword (deprecated)."""
    del clean_logits
    if smoothing is not None:
        warnings.warn("label_smoothing_loss(smoothing=) is deprecated; use factor=",
                      DeprecationWarning, stacklevel=2)
        factor = smoothing
    rows = smoothed_targets(targets, adv_logits.shape[-1], factor)
    # One-hot rows smoothed have the same maximum everywhere, so the weighted mean is the plain
    # batch mean there; soft rows keep SAT's weighting.
    adversarial = classification_term(adv_logits, rows)
    return ObjectiveTerms(adversarial, tf.zeros_like(adversarial), adversarial)


OBJECTIVE = Objective("label_smoothing", label_smoothing_loss, "label smoothing", reads_clean=False,
                      settings=LabelSmoothingSettings)
