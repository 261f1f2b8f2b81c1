"""ImageNet-style crops: shapes, ranges, keyed determinism, and torchvision's crop rules."""

import numpy as np
import tensorflow as tf

from tf_fastls0.data.imagenet_crops import (RATIO, SCALE, _crop_box,
                                            random_resized_crop_and_flip, resize_and_centre_crop)
from tf_fastls0.utils import keyed_random


def gradient_image(height, width):
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.stack([rows * 255 // max(height - 1, 1), cols * 255 // max(width - 1, 1),
                      np.full_like(rows, 128)], -1)
    return tf.constant(image.astype(np.uint8))


def crop(image, index, seed=0, epoch=0, size=24):
    return random_resized_crop_and_flip(image, tf.constant(index, tf.int64), seed, epoch,
                                        size).numpy()


def test_training_crops_have_the_size_and_stay_uint8_and_are_keyed():
    image = gradient_image(60, 90)
    first = crop(image, 5)
    assert first.shape == (24, 24, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, crop(image, 5))  # same key, same crop
    others = [crop(image, 5, epoch=1), crop(image, 6), crop(image, 5, seed=1)]
    assert all(not np.array_equal(first, other) for other in others)


def test_drawn_boxes_follow_torchvision_area_and_aspect_limits():
    for height, width in ((60, 90), (300, 200), (37, 37)):
        for key in range(8):
            draws = tf.cast(keyed_random.uniform(tf.constant([key], tf.int64), [10, 4], 0, 0,
                                                 keyed_random.STREAM_RESIZED_CROP)[0], tf.float64)
            top, left, crop_h, crop_w = (int(v) for v in _crop_box([height, width], draws))
            assert 0 <= top and top + crop_h <= height and 0 <= left and left + crop_w <= width
            area = crop_h * crop_w / (height * width)
            assert SCALE[0] * 0.8 <= area <= SCALE[1]
            assert RATIO[0] * 0.8 <= crop_w / crop_h <= RATIO[1] * 1.25


def test_an_image_too_elongated_for_any_attempt_gets_the_central_fallback():
    draws = tf.fill([10, 4], tf.constant(0.999, tf.float64))  # largest area, widest aspect
    top, left, crop_h, crop_w = (int(v) for v in _crop_box([10, 400], draws))
    assert (crop_h, crop_w) == (10, round(10 * RATIO[1]))
    assert top == 0 and left == (400 - crop_w) // 2


def test_test_transform_resizes_the_shorter_side_and_crops_the_centre():
    image = gradient_image(300, 500)  # resized to 256 x 426, then the central 224 x 224
    out = resize_and_centre_crop(image, 224).numpy()
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    # the rows keep the full vertical gradient's middle, the columns only the middle part
    assert abs(int(out[112, 112, 0]) - 128) <= 3 and abs(int(out[112, 112, 1]) - 128) <= 3
    assert out[0, 0, 1] > 30 and out[-1, -1, 1] < 225  # the left and right edges were cut
    square = resize_and_centre_crop(gradient_image(64, 64), 32).numpy()
    assert square.shape == (32, 32, 3)
