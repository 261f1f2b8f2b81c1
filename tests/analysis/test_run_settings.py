"""The analyses take each model's settings from its run's config.json: every coefficient of its
objective, the budgets, the training attack's patience and variant, and N-FGSM noise (issue 23:
a run trained with --mart_beta=3 was analysed with beta 6)."""

import json

import keras
import numpy as np
import pytest

from tf_fastls0.analysis import adversarial_inputs, loss_parts
from tf_fastls0.analysis.config import AnalysisConfig
from tf_fastls0.analysis.context import AnalysisContext, Examples, Objective
from tf_fastls0.models.loading import load_model
from tf_fastls0.training.config import TrainConfig

N, SHAPE = 8, (6, 6, 3)


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_mart(clean, adv, labels, beta):
    """MART (Wang et al. 2020, reference ``mart_loss``) as data-set means."""
    rows = np.arange(len(labels))
    log_p_adv, log_p_clean = log_softmax(adv), log_softmax(clean)
    p_adv, p_clean = np.exp(log_p_adv), np.exp(log_p_clean)
    others = np.where(np.eye(adv.shape[1], dtype=bool)[labels], 0.0, p_adv).max(axis=1)
    boosted = -log_p_adv[rows, labels] - np.log(1.0001 - others + 1e-12)
    kl = (p_clean * (log_p_clean - log_p_adv)).sum(axis=1)
    return boosted.mean() + beta * (kl * (1.0000001 - p_clean[rows, labels])).mean()


def run_folder(path, **settings):
    """A run folder as training leaves it, as far as the analysis reads it."""
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input(SHAPE), keras.layers.Conv2D(4, 3),
                                keras.layers.Flatten(), keras.layers.Dense(5)])
    network.save(path / "model.keras")
    config = TrainConfig(model="small_cnn", epochs=2, **settings)
    (path / "config.json").write_text(json.dumps(config.to_dict()))
    return load_model(str(path), prefer="keras", label="run")


def context(model, **flags):
    rng = np.random.default_rng(0)
    examples = Examples(rng.uniform(size=(N, *SHAPE)).astype(np.float32),
                        rng.integers(0, 5, N).astype(np.int32))
    config = AnalysisConfig(model=("run",), batch_size=4, seed=1, **flags)
    return AnalysisContext(config, [model], examples, examples, "toy")


def test_a_run_trained_with_mart_beta_3_is_analysed_with_beta_3(tmp_path):
    model = run_folder(tmp_path, method="mart", mart_beta=3.0, eval_eps=2, train_eps=5,
                       nfgsm_noise=True)
    analysis = context(model)
    assert analysis.objective(model) == Objective("mart", {"beta": 3.0})
    start = analysis.training_images(model)  # N-FGSM noise, as the run's attack started
    clean = analysis.train.images
    changed = np.any(start != clean, axis=-1).sum(axis=(1, 2))
    assert changed.max() <= 2 * 5 and changed.sum() > 0
    adversarial = analysis.adversarial(model, "train", as_trained=True)
    assert np.any(adversarial != start, axis=-1).sum(axis=(1, 2)).max() <= 5
    parts = analysis.objective_parts(model)
    total = loss_parts.total_loss(loss_parts.compiled_parts(model.network, parts))
    logits = [model.model_fn(x).numpy().astype(np.float64) for x in (start, adversarial)]
    labels = analysis.train.labels
    assert total == pytest.approx(np_mart(*logits, labels, beta=3.0), rel=1e-5)
    assert total != pytest.approx(np_mart(*logits, labels, beta=6.0), rel=1e-3)


def test_the_attacks_take_the_runs_budgets_patience_and_variant(tmp_path, monkeypatch):
    model = run_folder(tmp_path, method="sparse_at", eval_eps=2, train_eps=5,
                       attack_patience=4, attack_variant="projected")
    analysis = context(model)
    calls = []
    real = adversarial_inputs.sparse_pgd

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(adversarial_inputs, "sparse_pgd", spy)
    monkeypatch.setattr(adversarial_inputs, "saa", lambda *args, **kwargs: kwargs)
    analysis.adversarial(model, "test")
    assert {(c["eps"], c["patience"], c["projected"]) for c in calls} == {(5, 4, True)}
    assert analysis.saa(model)["eps"] == 2
    assert analysis.objective(model) == Objective("sparse_at", {})
    assert not np.any(analysis.training_images(model) != analysis.train.images)  # no noise


def test_flags_take_the_place_of_the_runs_settings(tmp_path):
    model = run_folder(tmp_path, method="strades", strades_beta=1.0, eval_eps=2, train_eps=5)
    analysis = context(model, trades_beta=2.0, train_eps=3, eval_eps=1,
                       attack_variant="unprojected")
    run = analysis.run_settings(model)
    assert (run.train_eps, run.eval_eps, run.attack_variant) == (3, 1, "unprojected")
    assert analysis.objective(model) == Objective("strades", {"beta": 2.0})
    assert context(model, loss="mart").objective(model) == Objective("mart", {"beta": 6.0})
    # A model without a run: the trainer's defaults, train_eps derived from --eval_eps as there.
    (tmp_path / "bare").mkdir()
    (tmp_path / "model.keras").rename(tmp_path / "bare" / "model.keras")
    bare = load_model(str(tmp_path / "bare" / "model.keras"), label="bare")
    assert bare.run_config is None
    settings = context(bare, eval_eps=4).run_settings(bare)
    assert (settings.eval_eps, settings.train_eps, settings.attack_patience) == (4, 24, 10)
    assert context(bare).objective(bare) == Objective("sparse_at", {})
