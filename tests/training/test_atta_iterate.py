"""ATTA trains on the iterate it carries on (haizhongzheng/ATTA, ``train_atta_cifar.py``
``train``: the loss is taken at ``x_adv_next``, and ``x_adv_next`` is what ``inverse_atta_aug``
writes back), not on sPGD's best input."""

import numpy as np

from tf_fastls0 import data as data_lib
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer


def test_atta_trains_on_the_iterate_it_stores(monkeypatch):
    config = TrainConfig(model="small_cnn", width=0.25, batch_size=16, train_eps=4, eval_eps=4,
                         method="atta", augment=False, verbose=0,
                         data=data_lib.DataConfig(max_train_examples=16, max_eval_examples=8))
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    attacks = []
    real = recipe_lib.sparse_pgd
    monkeypatch.setattr(recipe_lib, "sparse_pgd",
                        lambda *args, **kwargs: attacks.append(real(*args, **kwargs))
                        or attacks[-1])
    images, labels = splits.train.float_images()[:16], splits.train.labels[:16].astype(np.int32)
    indices = np.arange(16)
    batch = recipe_lib.prepare(trainer.recipe, trainer.network, trainer.states, images, labels,
                               indices, step=0, steps_per_epoch=1)
    mask, magnitude = (t.numpy() for t in attacks[0].last_iterate)
    x_adv_next = images + mask * magnitude  # the reference's carried iterate
    np.testing.assert_allclose(batch.adversarial.numpy(), x_adv_next, atol=1e-6)
    best = attacks[0].adversarial.numpy()
    assert np.any(np.all(best == images, axis=(1, 2, 3)))  # best-tracking kept a clean image...
    assert not np.any(np.all(batch.adversarial.numpy() == images, axis=(1, 2, 3)))  # ...not ATTA
