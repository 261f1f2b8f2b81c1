"""The one check of the arrays a user hands to an entry point: the attack functions
(``attacks.common``), ``evaluate_model``'s arrays, the ART adapter and
``SparseAdversarialModel.fit``.

Refused, each with one line (``InputError``) saying what to do:
- images not ``[N, H, W, C]`` (``[N, 28, 28]``: add a channel axis);
- images of an integer dtype other than uint8, or holding NaN or infinity;
- float images outside [0, 1] (up to 255: scale them by 1/255; else normalise inside the model);
- uint8 images where the entry point takes floats only: the attack functions, whose result comes
  back in the images' dtype (a uint8 image cannot hold the values they write), and ``fit``;
- labels ``[N, K]`` with K > 1 (one-hot or probabilities: pass class numbers), of another rank,
  of another length than the images, not whole numbers, or outside the model's classes (the
  message names the first bad value and its row).

Accepted rather than refused:
- labels ``[N, 1]``, as Keras' sparse losses take them: read as ``[N]``;
- labels as whole-valued floats (as Keras' losses take them);
- uint8 images where the entry point says so (``evaluate_model``, which scores them scaled by
  1/255).

Tensors being traced (inside a ``tf.function``) are checked for their static shape only: their
values are not known until they run.
"""

import numpy as np
import tensorflow as tf

from tf_fastls0.data.image_set import DataError
from tf_fastls0.utils.cli import UsageError

# A float image whose largest value is above this (and at most 255) is taken for 0..255 pixels.
BYTE_RANGE_HINT = 2.0


class InputError(DataError, UsageError):
    """Arrays an entry point cannot use; one line naming them and what to do."""


def check_images(images, who, *, name="images", uint8=False):
    """Checks ``images`` (numpy or a tensor) as the module docstring says; returns them as given.
    ``uint8``: whether uint8 images are accepted; ``who`` and ``name`` start the message."""
    shape = _static_shape(images)
    if shape is not None and len(shape) != 4:
        hint = (": add a channel axis (images[..., None]) for one-channel images, or a batch axis "
                "(images[None]) for one image" if len(shape) == 3 else "")
        raise InputError(f"{who}: {name} have shape {_shown(shape)}; they must be "
                         f"[N, H, W, C]{hint}")
    dtype = tf.as_dtype(images.dtype)
    if dtype == tf.uint8:
        if not uint8:
            raise InputError(f"{who}: {name} are uint8; give float images in [0, 1]: scale them "
                             "by 1/255 (images.astype('float32') / 255)")
        return images
    if not dtype.is_floating:
        raise InputError(f"{who}: {name} are {dtype.name}; give float images in [0, 1]")
    extremes = _extremes(images)
    if extremes is None:
        return images
    low, high, finite = extremes
    if not finite:
        raise InputError(f"{who}: {name} hold NaN or infinite values")
    if low < 0.0 or high > 1.0:
        hint = (f"pixels up to {high:g} look like 0..255: scale them by 1/255"
                if low >= 0.0 and BYTE_RANGE_HINT < high <= 255.0
                else "pixels before any normalisation: normalise inside the model")
        raise InputError(f"{who}: {name} range over [{low:g}, {high:g}]; they must be in [0, 1] "
                         f"({hint})")
    return images


def check_labels(labels, count, who, *, name="labels"):
    """Checks the form of ``labels`` for ``count`` images; returns them as ``[N]`` (numpy int32,
    or for a traced tensor the tensor, ``[N, 1]`` reshaped)."""
    shape = _static_shape(labels)
    if shape is None:
        return labels
    if len(shape) == 2 and shape[1] is not None and shape[1] > 1:
        raise InputError(f"{who}: {name} have shape {_shown(shape)}, one-hot or probabilities; "
                         f"pass class numbers [N] (np.argmax({name}, axis=1))")
    if len(shape) == 2 and shape[1] == 1:
        labels = tf.reshape(labels, [-1]) if tf.is_symbolic_tensor(labels) else \
            np.asarray(labels)[:, 0]
        shape = shape[:1]
    if len(shape) != 1:
        raise InputError(f"{who}: {name} have shape {_shown(shape)}; pass class numbers [N]")
    if count is not None and shape[0] is not None and shape[0] != count:
        raise InputError(f"{who}: {shape[0]} {name} for {count} images")
    if tf.is_symbolic_tensor(labels):
        return labels
    values = np.asarray(labels)
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer)
                                    or np.issubdtype(values.dtype, np.floating)):
        raise InputError(f"{who}: {name} are {values.dtype}; pass class numbers (integers)")
    if np.issubdtype(values.dtype, np.floating):
        fractional = np.flatnonzero(values != np.round(values))
        if fractional.size:
            row = fractional[0]
            raise InputError(f"{who}: {name} hold {values[row]:g} (row {row}); pass class "
                             "numbers (integers)")
    return values.astype(np.int32)


def check_label_range(labels, num_classes, who, *, name="labels", first_row=0):
    """Refuses labels (numpy, or a tensor: traced ones pass) outside ``[0, num_classes)``, naming
    the first bad value and its row (``first_row``: the row of ``labels[0]`` in the caller's
    arrays)."""
    if num_classes is None or tf.is_symbolic_tensor(labels):
        return
    values = np.asarray(labels)
    bad = np.flatnonzero((values < 0) | (values >= num_classes))
    if bad.size:
        row = bad[0]
        raise InputError(f"{who}: {name} must be class numbers in [0, {num_classes}) for the "
                         f"model's {num_classes} outputs; got {values[row]} "
                         f"(row {first_row + row})")


def _static_shape(values):
    """The static shape as a tuple (None for unknown sizes), or None for an unknown rank."""
    shape = tf.TensorShape(getattr(values, "shape", None) if hasattr(values, "shape")
                           else np.shape(values))
    return None if shape.rank is None else tuple(shape.as_list())


def _extremes(images):
    """(min, max, all finite) of concrete ``images``; None for traced or empty ones."""
    if tf.is_symbolic_tensor(images):
        return None
    # An eager tensor may reach here while a tf.function is traced (captured from outside): its
    # values are known, but TensorFlow ops on it would be symbolic, so read them in numpy.
    values = images.numpy() if isinstance(images, tf.Tensor) else np.asarray(images)
    if not values.size:
        return None
    return float(np.min(values)), float(np.max(values)), bool(np.all(np.isfinite(values)))


def _shown(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
