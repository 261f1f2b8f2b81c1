"""testdata/make_imagenet_like.py: an ImageNet-shaped folder the image-folder loader reads."""

import numpy as np
import tensorflow as tf

from tf_fastls0.data import DataConfig, load_data


def test_the_folder_has_varied_imagenet_sizes_and_loads_at_224(imagenet_like, tmp_path):
    written = imagenet_like.write_folder(str(tmp_path), classes=3,
                                           per_split={"train": 4, "test": 2},
                                           min_side=256, max_side=500, seed=1)
    assert written == 3 * (4 + 2)
    shapes = {tuple(tf.io.decode_jpeg(path.read_bytes()).shape)
              for path in tmp_path.glob("*/*/*.jpg")}
    assert len(shapes) > 1 and all(256 <= side <= 500 for shape in shapes for side in shape[:2])
    splits = load_data(DataConfig(data_dir=str(tmp_path), image_size=224))
    assert splits.train.images.shape == (12, 224, 224, 3) and splits.num_classes == 3
    # each class keeps its own colour after the resize (the ellipse covers the image's centre)
    centres = splits.test.images[:, 112, 112].astype(np.float32)
    by_class = [centres[splits.test.labels == label].mean(axis=0) for label in range(3)]
    assert min(np.abs(a - b).max() for i, a in enumerate(by_class) for b in by_class[i + 1:]) > 40
