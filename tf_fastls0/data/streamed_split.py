"""What every split left on disk shares: its length, classes, crop size and subsets, over the
elements tf.data shuffles and reads one by one (file paths, record indices).

A subclass is a frozen dataclass with ``labels`` and ``class_names`` fields, names the field that
holds its elements in ``ELEMENTS``, reads one element with ``load``, gives an image as the
unaugmented split holds it with ``unaugmented`` and names an element in messages with
``element_name``.

An element that stops reading after the split was listed (a file deleted or damaged, a record that
fails) ends a run with a TensorFlow error from deep in tf.data; ``unreadable`` turns it into one
line naming the element, for the commands' midway-failure messages.
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf


# What reading a streamed element raises: TensorFlow's errors, and the Python exception a record
# reader raises inside ``tf.numpy_function`` (ArrayRecord's RuntimeError), which TF passes on.
READ_ERRORS = (tf.errors.OpError, RuntimeError)


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

    def element_name(self, element):
        """How messages name one element (the file path, the record)."""
        return element.decode() if isinstance(element, bytes) else str(element)

    def unreadable(self, error, indices=None):
        """``cannot read <element>: <why>`` for the first element (among ``indices``, all if
        None) that does not read, after a read failed with ``error``; None when every element
        reads (``error`` came from elsewhere). The element named in ``error``'s message is
        tried first; else all are read once (in parallel) to find it."""
        elements = self.elements if indices is None else self.elements[indices]
        message = getattr(error, "message", None) or str(error)
        named = [e for e in elements if self.element_name(e) in message]
        for element in named + list(self._failing(elements)):
            try:
                self.load(tf.constant(element))
            except READ_ERRORS as failure:
                name = self.element_name(element)
                return f"cannot read {name}: {_reason(failure, name)}"
        return None

    def _failing(self, elements):
        """The elements that do not read, in order (read through tf.data, errors dropped)."""
        dataset = tf.data.Dataset.from_tensor_slices(
            (tf.range(len(elements), dtype=tf.int64), elements)).map(
            # a value of the image, not its shape, which is known without decoding it
            lambda position, element: (position, tf.reduce_max(self.load(element))),
            num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
        read = np.zeros(len(elements), bool)
        for position, _ in dataset.as_numpy_iterator():
            read[position] = True
        return elements[~read]


def unreadable_example(splits, error):
    """``StreamedSplit.unreadable`` over the streamed splits of ``splits`` (training first),
    or None: in-memory splits were read in full before the run began."""
    for split in (splits.train, splits.test):
        if isinstance(split, StreamedSplit):
            found = split.unreadable(error)
            if found:
                return found
    return None


def _reason(error, name):
    """TensorFlow's message without its op decorations (``{{function_node ...}}``,
    ``[Op:ReadFile]``) or the element's name it repeats."""
    text = (getattr(error, "message", None) or str(error)).strip()
    text = text.splitlines()[0] if text else ""
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text).strip()
    text = text.removeprefix(name).lstrip(";: ").strip()
    return text or type(error).__name__
