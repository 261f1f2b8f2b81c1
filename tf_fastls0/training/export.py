"""The trained classifier as a SavedModel (serving: images in [0, 1] -> logits) and a .keras file,
both in float32 (a mixed-precision run exports its float32 copy, ``models/precision.py``)."""

import os

from tf_fastls0.models.loading import RUN_KERAS_FILE as KERAS_FILE
from tf_fastls0.models.loading import RUN_SAVED_MODEL as SAVED_MODEL_DIR
from tf_fastls0.models.precision import float32
from tf_fastls0.utils.atomic import atomic_path


def export_network(network, output_dir):
    """Writes both formats atomically, computing in float32 whatever the training's precision;
    returns their paths."""
    network = float32(network)
    saved_model = os.path.join(output_dir, SAVED_MODEL_DIR)
    keras_file = os.path.join(output_dir, KERAS_FILE)
    with atomic_path(saved_model) as temporary:
        network.export(temporary, format="tf_saved_model", verbose=False)
    with atomic_path(keras_file) as temporary:
        # Keras insists on the suffix; the rename still makes the write atomic.
        network.save(temporary + ".keras")
        os.replace(temporary + ".keras", temporary)
    return saved_model, keras_file
