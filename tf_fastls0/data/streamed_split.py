"""What every split left on disk shares: its length, classes, crop size and subsets, over the
elements tf.data shuffles and reads one by one (file paths, record indices).

A subclass is a frozen dataclass with ``labels`` and ``class_names`` fields, names the field that
holds its elements in ``ELEMENTS``, reads one element with ``load`` and gives an image as the
unaugmented split holds it with ``unaugmented``.
"""

import dataclasses

import numpy as np
import tensorflow as tf


class StreamedSplit:
    ELEMENTS = None  # the name of the field holding the elements, one per example

    def __len__(self):
        return len(self.labels)

    @property
    def elements(self):
        """What the pipeline shuffles and ``load`` reads."""
        return getattr(self, self.ELEMENTS)

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def crop_size(self):
        return self.image_shape[0]

    def subset(self, max_examples, seed=0):
        """The same choice as ``ImageSet.subset``."""
        if max_examples is None or max_examples >= len(self):
            return self
        chosen = np.sort(np.random.default_rng(seed).permutation(len(self))[:max_examples])
        return dataclasses.replace(self, **{self.ELEMENTS: self.elements[chosen]},
                                   labels=self.labels[chosen])

    def images_at(self, indices=None):
        """The images at ``indices`` (all if None), decoded now: uint8 ``[n, *image_shape]``."""
        elements = self.elements if indices is None else self.elements[indices]
        dataset = tf.data.Dataset.from_tensor_slices(elements).map(
            lambda element: self.unaugmented(self.load(element)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(256)
        batches = [batch.numpy() for batch in dataset]
        if not batches:
            return np.zeros((0, *self.image_shape), np.uint8)
        return np.concatenate(batches)

    def float_images(self, indices=None):
        return self.images_at(indices).astype(np.float32) / 255.0
