"""What ``evaluate_model`` needs to attack a model and images held in memory: an in-memory Keras
model or any callable ``images [B, H, W, C] in [0, 1] -> logits`` seen as a ``LoadedModel``, and
numpy arrays seen as a test split (``DataSplits``)."""

import dataclasses

import numpy as np

from tf_fastls0.data.image_set import DataError, DataSplits, ImageSet
from tf_fastls0.models.loading import LoadedModel, ModelSource
from tf_fastls0.utils import inputs

IN_MEMORY = "<in memory>"  # the model "path" of a report on an in-memory model
ARRAYS = "arrays"  # the data set's name in a report on numpy arrays
WHO = "evaluate_model"  # names the entry point in a refusal of its arrays


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


def checked_arrays(images, labels):
    """``images`` and ``labels`` checked as every entry point checks them (``utils.inputs``;
    uint8 images accepted: the evaluation scales them by 1/255), before the model sees them:
    numpy images and labels ``[N]``."""
    if labels is None:
        raise DataError(f"{WHO}: images given without labels")
    images = np.asarray(inputs.check_images(np.asarray(images), WHO, uint8=True))
    return images, inputs.check_labels(labels, len(images), WHO)


def splits_of(images, labels, num_classes):
    """A ``DataSplits`` whose test split is ``images`` and ``labels`` (``checked_arrays``) of
    ``num_classes`` classes (its training split, never used, is the same)."""
    inputs.check_label_range(labels, num_classes, WHO)
    labels = labels.astype(np.int64)
    classes = tuple(str(c) for c in range(num_classes))
    if images.dtype == np.uint8:
        split = ImageSet(images, labels, classes)
    else:
        split = FloatImageSet(images.astype(np.float32), labels, classes)
    return DataSplits(ARRAYS, split, split)
