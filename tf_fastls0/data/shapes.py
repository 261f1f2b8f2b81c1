"""The built-in default data set: ``shapes10``, ten classes of coloured shapes, made on the fly.

It needs no download and no shared folder, and it is generated deterministically from a seed, so
every machine sees the same images. Each 32x32 RGB image holds one shape (its class) of random
size, position and colour on a random background with pixel noise. A small CNN learns it well
above chance in a minute or two on two CPU cores, and because the class is carried by a few
hundred pixels of outline and texture, a sparse attack that repaints a few pixels can change the
prediction of an undefended model: it is a real, if easy, target for l0 attacks.
"""

import numpy as np

from tf_fastls0.data.image_set import DataSplits, ImageSet

CLASS_NAMES = ("disk", "ring", "square", "frame", "triangle",
               "plus", "cross", "hstripes", "vstripes", "checker")
IMAGE_SIZE = 32
DEFAULT_TRAIN_EXAMPLES = 6000
DEFAULT_TEST_EXAMPLES = 1000


def load_shapes(num_train=DEFAULT_TRAIN_EXAMPLES, num_test=DEFAULT_TEST_EXAMPLES, seed=0):
    """Both splits of shapes10; the test split is drawn from a different seed stream."""
    train = make_shapes(num_train, np.random.default_rng([seed, 0]))
    test = make_shapes(num_test, np.random.default_rng([seed, 1]))
    return DataSplits("shapes10", train, test)


def make_shapes(num_examples, rng, size=IMAGE_SIZE):
    labels = np.arange(num_examples, dtype=np.int32) % len(CLASS_NAMES)
    rng.shuffle(labels)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((num_examples, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        mask = _shape_mask(label, rows, cols, rng, size)
        images[i] = _paint(mask, rng)
    return ImageSet(images, labels, CLASS_NAMES)


def _shape_mask(label, rows, cols, rng, size):
    radius = rng.uniform(0.22, 0.38) * size
    cy, cx = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
    dy, dx = rows - cy, cols - cx
    dist = np.hypot(dy, dx)
    thickness = rng.uniform(0.18, 0.3) * radius
    period = rng.uniform(5.0, 8.0)
    inside_box = (np.abs(dy) <= radius) & (np.abs(dx) <= radius)
    name = CLASS_NAMES[label]
    if name == "disk":
        return dist <= radius
    if name == "ring":
        return np.abs(dist - radius * 0.8) <= thickness
    if name == "square":
        return np.maximum(np.abs(dy), np.abs(dx)) <= radius * 0.85
    if name == "frame":
        return np.abs(np.maximum(np.abs(dy), np.abs(dx)) - radius * 0.8) <= thickness * 0.8
    if name == "triangle":
        return (dy <= radius * 0.7) & (dy >= -radius) & (np.abs(dx) <= (dy + radius) * 0.6)
    if name == "plus":
        return inside_box & ((np.abs(dy) <= thickness) | (np.abs(dx) <= thickness))
    if name == "cross":
        return inside_box & ((np.abs(dy - dx) <= thickness * 1.4) | (np.abs(dy + dx) <= thickness * 1.4))
    if name == "hstripes":
        return inside_box & ((rows // (period / 2)) % 2 == 0)
    if name == "vstripes":
        return inside_box & ((cols // (period / 2)) % 2 == 0)
    return inside_box & (((rows // (period / 2)) + (cols // (period / 2))) % 2 == 0)


def _paint(mask, rng):
    background = rng.uniform(0.0, 1.0, size=3)
    foreground = rng.uniform(0.0, 1.0, size=3)
    while np.abs(foreground - background).sum() < 0.9:  # keep the shape visible
        foreground = rng.uniform(0.0, 1.0, size=3)
    image = np.where(mask[..., None], foreground, background)
    image = image + rng.normal(0.0, 0.04, size=image.shape)
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
