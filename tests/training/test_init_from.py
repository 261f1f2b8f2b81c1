"""``--init_from``: training starts from the weights of a ``.keras`` model, such as one converted
from a PyTorch checkpoint (its PyTorch-style padding layers hold no weights); a model that does
not fit is refused naming the layer."""

import numpy as np
import pytest

from tf_fastls0.data import DataSplits, ImageSet
from tf_fastls0.models.preact_resnet import preact_resnet18
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer
from tf_fastls0.utils.cli import UsageError

SHAPE = (16, 16, 3)


def _splits():
    images = np.random.default_rng(0).integers(0, 256, (8, *SHAPE), dtype=np.uint8)
    split = ImageSet(images, np.arange(8, dtype=np.int32) % 4, ("a", "b", "c", "d"))
    return DataSplits("tiny", split, split)


def _converted_like(path, classes=4):
    """A model as ``tf_fastls0.convert`` writes one: PyTorch padding, random BatchNorm stats."""
    model = preact_resnet18(SHAPE, classes, width=0.125, pytorch_padding=True)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) ** 2 for w in model.weights])
    model.save(path)
    return model


def test_training_starts_from_the_weights_of_a_converted_model(tmp_path):
    source = _converted_like(str(tmp_path / "converted.keras"))
    config = TrainConfig(model="preact_resnet18", width=0.125, epochs=1, batch_size=4,
                         train_eps=3, eval_eps=1, init_from=str(tmp_path / "converted.keras"))
    trainer, _ = build_trainer(config, _splits())
    by_name = {layer.name: layer for layer in source.layers}
    weighted = [layer for layer in trainer.network.layers if layer.weights]
    assert weighted
    for layer in weighted:
        for got, expected in zip(layer.get_weights(), by_name[layer.name].get_weights()):
            np.testing.assert_array_equal(got, expected)


def test_a_model_that_does_not_fit_is_refused_naming_the_layer(tmp_path):
    _converted_like(str(tmp_path / "ten.keras"), classes=10)
    config = TrainConfig(model="preact_resnet18", width=0.125, epochs=1, batch_size=4,
                         train_eps=3, eval_eps=1, init_from=str(tmp_path / "ten.keras"))
    with pytest.raises(UsageError, match="layer logits has weights of shapes"):
        build_trainer(config, _splits())
