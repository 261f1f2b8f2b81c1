"""What ``evaluate_model`` needs to attack a model and images held in memory: an in-memory Keras
model or any callable ``images [B, H, W, C] in [0, 1] -> logits`` seen as a ``LoadedModel``, and
numpy arrays seen as a test split (``DataSplits``)."""

import dataclasses

import numpy as np

from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet
from tf_fastls0.models.loading import LoadedModel, ModelSource

IN_MEMORY = "<in memory>"  # the model "path" of a report on an in-memory model
ARRAYS = "arrays"  # the data set's name in a report on numpy arrays


class CallableNetwork:
    """A plain callable seen as a network: no weights, any image shape."""

    def __init__(self, model_fn):
        self._model_fn = model_fn
        self.weights = []
        self.input_shape = (None, None, None, None)
        self.name = getattr(model_fn, "__name__", type(model_fn).__name__)

    def __call__(self, images, training=False):
        del training
        return self._model_fn(images)


def loaded(model, label=None):
    """``model`` (a ``keras.Model`` or a callable) as a ``LoadedModel``."""
    import keras

    network = model if isinstance(model, keras.Model) else CallableNetwork(model)
    source = ModelSource(IN_MEMORY, "in_memory", None)
    return LoadedModel(network, source, label or network.name or "model")


@dataclasses.dataclass(frozen=True)
class FloatImageSet(ImageSet):
    """A split of float32 images in [0, 1] (``images``), as the attacks take them."""

    def float_images(self, indices=None):
        return self.images if indices is None else self.images[indices]

    def images_at(self, indices=None):
        return np.round(self.float_images(indices) * 255.0).astype(np.uint8)


def splits_of(images, labels, num_classes):
    """A ``DataSplits`` whose test split is ``images`` (uint8, or float in [0, 1]) and ``labels``
    of ``num_classes`` classes (its training split, never used, is the same)."""
    if labels is None:
        raise DataError("evaluate_model: images given without labels")
    images, labels = np.asarray(images), np.asarray(labels).astype(np.int64)
    if images.ndim != 4:
        raise DataError(f"evaluate_model: images must be [N, H, W, C]; got shape "
                        f"{list(images.shape)}")
    if labels.ndim != 1 or len(labels) != len(images) or labels.min() < 0 or \
            labels.max() >= num_classes:
        raise DataError(f"evaluate_model: labels must be [N] class numbers in [0, {num_classes})"
                        f" for the N = {len(images)} images")
    classes = tuple(str(c) for c in range(num_classes))
    if images.dtype == np.uint8:
        split = ImageSet(images, labels, tuple(classes))
    else:
        if images.min() < 0.0 or images.max() > 1.0:
            raise DataError(f"evaluate_model: the images range over [{images.min():g}, "
                            f"{images.max():g}]; they must be in [0, 1] (or uint8)")
        split = FloatImageSet(images.astype(np.float32), labels, tuple(classes))
    return DataSplits(ARRAYS, split, split)
