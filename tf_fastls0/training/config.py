"""A training run's settings: each one's name, default, help text and checks, in one place.

The flags of ``python -m tf_fastls0.train`` are generated from ``TrainConfig``
(``utils/settings.py``); tests and library users make a ``TrainConfig`` directly and get the same
checks. The resolved config (derived defaults filled in) is written to the run folder's
``config.json`` and to TensorBoard's HParams dashboard.
"""

import dataclasses
from typing import Optional

from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.data.config import DataConfig
from tf_fastls0.evaluation.budgets import BUDGETS
from tf_fastls0.losses.objectives import OBJECTIVES
from tf_fastls0.models import MODELS
from tf_fastls0.models.precision import AUTO, AUTO_HELP, PRECISION_HELP, TRAINING_PRECISIONS
from tf_fastls0.training.methods import (ADD_ONS, METHOD_ALIASES, METHODS, SOFT_LABEL_ALIASES,
                                         SOFT_LABELS, add_ons_of, methods_help)
from tf_fastls0.training.optimizer import OPTIMIZERS
from tf_fastls0.training.schedule import SCHEDULES
from tf_fastls0.training.strategies import STRATEGIES
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting

TRAIN_EPS_PER_EVAL_EPS = 6  # the paper's multi-eps rule (SPEC §5)
KERAS_SUFFIX = ".keras"  # --model=<file>.keras: a user's architecture


# The objectives and step add-ons that have settings, as the tables hold them at import.
RECORDS = tuple(record for record in (*OBJECTIVES.values(), *ADD_ONS.values())
                if record.settings is not None)


def _record_fields():
    """One field per objective and step add-on that has settings: its record's name, holding its
    settings dataclass (defaults, help and bounds declared there once), whose fields' flags and
    flat keys are the record's name and the field's joined (``config.mart.beta`` is
    ``--mart_beta``; ``settings.flat_key``)."""
    return [(record.name, record.settings,
             setting(record.settings(), f"{record.display_name}'s settings.", flat_keys=True,
                     prefix_keys=True))
            for record in RECORDS]


# The objectives' and add-ons' settings, made from their records: a new objective or add-on
# needs no field written here.
MethodSettings = dataclasses.make_dataclass("MethodSettings", _record_fields(), frozen=True,
                                            namespace={"__module__": __name__})


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """The per-epoch robust validation of an adversarial run and the catastrophic-overfitting
    monitor that reads it: ``TrainConfig.validation``, whose fields keep their top-level keys
    (``--val_robust_examples``, ``val_queries`` in ``config.json``) as before they were grouped."""

    val_robust_examples: int = setting(200, "Test images of the per-epoch robust validation (0 "
                                       "turns it off).", lower=0)
    val_attack_iterations: int = setting(
        20, "sPGD iterations per variant (unprojected, then projected) of the per-epoch robust "
        "validation.", lower=1, old_names=("val_attack_steps",))
    val_queries: int = setting(
        100, "Sparse-RS queries of the per-epoch robust validation, on the images sPGD left "
        "unbroken (0: sPGD only). Sparse-RS needs no gradients, so it still sees robustness "
        "lost behind masked gradients.", lower=0, old_names=("val_rs_queries",))
    co_robust_drop: float = setting(
        0.5, "Catastrophic overfitting is flagged when validation robust accuracy falls below "
        "(1 - this) x its best so far ...", lower=0.0, upper=1.0)
    co_train_margin: float = setting(
        0.1, "... while the training-attack accuracy stays within this of its best so far.",
        lower=0.0, upper=1.0)
    stop_on_co: bool = setting(False, "Stop training when catastrophic overfitting is flagged.")

    def __post_init__(self):
        settings.normalise(self)


@settings.accepts_flat_keys
@dataclasses.dataclass(frozen=True)
class TrainConfig(MethodSettings):
    """Every training setting. The settings of each objective and step add-on are a field of
    its record's name (``config.mart.beta``, ``config.awp.gamma``; see ``MethodSettings``); the
    constructor, ``from_dict`` and the flags also take their flat keys (``mart_beta=3.0``).
    Renamed settings keep their old keys for one release (``Rule.old_names``; the constructor
    and the flags warn, ``from_dict`` reads an old ``config.json`` silently)."""

    data: DataConfig = DataConfig()
    output_dir: str = setting(
        "runs/default", "Run folder: TensorBoard logs, checkpoints, SavedModel, summary.json.",
        changes_results=False)
    # The model
    model: str = setting(
        "preact_resnet18", f"Classifier architecture: one of {', '.join(MODELS)}, or a .keras "
        "file of your own (images in [0, 1] -> logits), trained from the weights it holds "
        "(--reinitialize: from fresh ones).")
    reinitialize: bool = setting(False, "With --model=<file>.keras: draw fresh weights with its "
                                 "layers' initializers (seeded by --seed) instead of starting from "
                                 "the file's.")
    width: float = setting(1.0, "Channel-width multiplier of the model (1 = the paper's).",
                           lower=0.01, upper=64)
    sync_batchnorm: Optional[bool] = setting(
        None, "Synchronise BatchNorm statistics across replicas; default on whenever there is more "
        "than one replica, so several replicas give the same update as one.")
    init_from: Optional[str] = setting(
        None, "A .keras model of the same architecture (e.g. a PyTorch checkpoint converted by "
        "tf_fastls0.convert) whose weights, matched by layer name, the network starts from.")
    # The method
    method: str = setting("standard", methods_help(), choices=tuple(METHODS),
                          aliases=METHOD_ALIASES)
    trades_mode: str = setting(
        "T", "sTRADES attack loss: T = CE to the label, F = the KL term itself.",
        choices=("T", "F"))
    soft_labels: str = setting(
        "none", "self_adaptive: self-adaptive training's soft labels (always on for fast_ls_l0).",
        choices=SOFT_LABELS, aliases=SOFT_LABEL_ALIASES)
    # Self-adaptive training's settings were once sat_*, a name too close to sAT (sparse_at).
    soft_label_start_epoch: Optional[int] = setting(
        None, "Epoch (0-based) from which the self-adaptive soft labels move; default half the "
        "epochs.", lower=0, old_names=("sat_start_epoch",))
    soft_label_momentum: float = setting(
        0.9, "Self-adaptive soft labels' moving-average momentum m.", lower=0.0, upper=1.0,
        old_names=("sat_momentum",))
    soft_label_attack_target: str = setting(
        "soft", "With self-adaptive soft labels, attack CE to the soft target (soft) or to the "
        "label (hard).", choices=("soft", "hard"), old_names=("sat_attack_target",))
    nfgsm_noise: bool = setting(False, "Add N-FGSM sparse noise (0..2*train_eps pixels) before "
                                "the attack (always on for fast_ls_l0).")
    # The training attack
    attack_iterations: int = setting(
        1, "sPGD iterations of the training attack (1 = fast training, 20 = the multi-step "
        "baselines).", lower=0, old_names=("attack_steps",))
    attack_variant: str = setting(
        "random", "sPGD gradient variant in training; random draws one per batch (p = 1/2).",
        choices=("random", "projected", "unprojected"))
    attack_patience: int = setting(10, "sPGD mask restart after this many unchanged steps "
                                   "(training).", lower=1)
    train_eps: Optional[int] = setting(
        None, f"l0 budget (pixels) of the training attack; default {TRAIN_EPS_PER_EVAL_EPS}x "
        "--eval_eps (the paper's multi-eps rule).", lower=0)
    eval_eps: int = setting(20, "l0 budget (pixels) of validation and final evaluation.", lower=0)
    # Robust validation and catastrophic overfitting (``ValidationConfig``)
    validation: ValidationConfig = setting(
        ValidationConfig(), "The per-epoch robust validation's settings (--val_robust_examples and the flags "
        "with it).", flat_keys=True)
    final_eval: str = setting("none", "Run Sparse-AutoAttack at --eval_eps on the exported model "
                              "at the end.", choices=("none",) + tuple(BUDGETS),
                              changes_results=False)
    # Optimisation
    epochs: int = setting(100, "Number of training epochs.", lower=1)
    batch_size: int = setting(128, "Global batch size (over all replicas).", lower=1)
    learning_rate: float = setting(
        0.05, "Initial learning rate (see --lr_schedule).", lower=0.0)
    lr_schedule: str = setting(
        "step", "'step': the paper's, the rate divided by 10 at 1/4 and 3/4 of training; "
        "'constant': --learning_rate throughout; 'cosine': a linear rise from 0 over "
        "--warmup_epochs, then half a cosine down to 0 (Table 10's ConvNeXt and Swin).",
        choices=SCHEDULES)
    momentum: float = setting(0.9, "SGD momentum (--optimizer=sgd; AdamW uses PyTorch's betas "
                              "0.9, 0.999).", lower=0.0, upper=1.0)
    weight_decay: float = setting(
        5e-4, "Weight decay. --optimizer=sgd: L2 added to the gradient before momentum "
        "(PyTorch's rule); --optimizer=adamw: decoupled, w -= learning rate x this x w each step.",
        lower=0.0, upper=1.0)
    augment: bool = setting(True, "Random crop (4-pixel padding) and horizontal flip.")
    seed: int = setting(0, "Seed of the initial weights, data order, augmentation and attacks.",
                        lower=0, upper=settings.MAX_SEED)
    # How the run is carried out
    strategy: str = setting(
        "default", "tf.distribute strategy: default (one device), mirrored (all local GPUs), "
        "multi_worker (MultiWorkerMirroredStrategy from TF_CONFIG).", choices=STRATEGIES)
    log_every_steps: int = setting(10, "Write per-step TensorBoard scalars this often.", lower=1,
                                   changes_results=False)
    jit_compile: bool = setting(False, "Compile the training step with XLA.")
    steps_per_execution: int = setting(
        1, "Training steps per call into the compiled step function (Keras' steps_per_execution): "
        "the host dispatches and reads the logs once per this many steps, which keeps a GPU busy "
        "when steps are short. Callbacks then see every this many steps and each epoch's last; "
        "the weights are the same. Not with --strategy=multi_worker.", lower=1,
        changes_results=False)
    mixed_precision: str = setting(AUTO, PRECISION_HELP + AUTO_HELP, choices=TRAINING_PRECISIONS)
    # Set by the run with auto's choice (``run.resolve_precision``): config.json says why.
    mixed_precision_reason: Optional[str] = setting(
        None, "Why the run computes in its --mixed_precision (auto's choice, or given).",
        flag=False, changes_results=False)
    resume: bool = setting(True, "Continue from the last checkpoint in --output_dir if there is "
                           "one.", changes_results=False)
    overwrite: bool = setting(False, "Replace an --output_dir that holds a run with other "
                              "settings.", changes_results=False)
    deterministic: bool = setting(
        False, "Deterministic ops (tf.config.experimental.enable_op_determinism): a resumed run "
        "ends with the same weights.")
    checkpoint_every_steps: int = setting(
        0, "Also checkpoint every this many steps (0: only at the end of each epoch).", lower=0,
        changes_results=False)
    verbose: Optional[int] = setting(
        None, "Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch; default 1 on a "
        "terminal, else 2.", lower=0, upper=2, changes_results=False)
    # The threat model of the training attack and the robust validation
    threat_model: ThreatConfig = setting(
        ThreatConfig(), "The threat model's settings (--threat and the flags it reads).",
        flat_keys=True)
    # The optimiser of Table 10's ConvNeXt and Swin runs
    optimizer: str = setting(
        "sgd", "sgd: the paper's (momentum, coupled L2, PyTorch's rule); adamw: Keras' AdamW "
        "(decoupled decay), as the CIFAR-10 ConvNeXt and Swin implementations train.",
        choices=OPTIMIZERS)
    warmup_epochs: int = setting(
        0, "Epochs of linear learning-rate warm-up from 0 of --lr_schedule=cosine.", lower=0)
    def __post_init__(self):
        settings.normalise(self)  # the records' settings too: their dataclasses hold no checks
        if self.train_eps is None:
            object.__setattr__(self, "train_eps", TRAIN_EPS_PER_EVAL_EPS * self.eval_eps)
        if self.soft_label_start_epoch is None:
            object.__setattr__(self, "soft_label_start_epoch", self.epochs // 2)
        for record in RECORDS:  # defaults that depend on other settings (NuAT's ramp)
            if getattr(record, "resolve", None) is not None:
                object.__setattr__(self, record.name, record.resolve(getattr(self, record.name),
                                                                     self))
        if self.data.seed != self.seed:
            object.__setattr__(self, "data", dataclasses.replace(self.data, seed=self.seed))
        _check_combinations(self)

    @property
    def method_entry(self):
        """The method's entry in ``METHODS``."""
        return METHODS[self.method]

    @property
    def add_ons(self):
        """The records of the step add-ons the run has (``methods.add_ons_of``): its method's and
        those its settings switch on."""
        return add_ons_of(self.method_entry, settings.flat_dict(self).get)

    def has(self, add_on):
        return any(record.name == add_on for record in self.add_ons)

    @property
    def self_adaptive(self):
        return self.has("soft_labels")

    @property
    def carries_perturbations(self):
        """ATTA: the attack starts from each example's perturbation of the previous epoch."""
        return self.has("atta")

    @property
    def nfgsm(self):
        return self.has("nfgsm_noise")

    def __getattr__(self, name):
        """An old attribute name (``config.attack_steps``, ``config.val_robust_examples``): its
        setting's value, with a warning (read-only, for one release)."""
        return settings.moved_attribute(self, name)

    def to_dict(self):
        return settings.to_dict(self)

    @classmethod
    def from_dict(cls, values):
        return settings.from_dict(cls, values)


def _check_combinations(config):
    if config.model not in MODELS and not config.model.endswith(KERAS_SUFFIX):
        raise UsageError(f"--model={config.model}: choose one of {', '.join(MODELS)} or a "
                         f"{KERAS_SUFFIX} file")
    if config.reinitialize and config.model in MODELS:
        raise UsageError(f"--reinitialize applies to a {KERAS_SUFFIX} --model only "
                         f"(--model={config.model} is always built from fresh weights)")
    if config.soft_label_start_epoch >= config.epochs:
        raise UsageError(f"--soft_label_start_epoch={config.soft_label_start_epoch} must be "
                         f"smaller than --epochs={config.epochs}")
    _check_warmup(config)
    if config.steps_per_execution > 1 and config.strategy == "multi_worker":
        raise UsageError(f"--steps_per_execution={config.steps_per_execution} needs --strategy "
                         "default or mirrored (the multi-worker loop runs one step per call)")
    if not config.method_entry.adversarial:
        flat = settings.flat_dict(config)
        switched = [record.switch_setting for record in ADD_ONS.values()
                    if record.switched_on(flat.get(record.switch_setting))]
        if switched:
            raise UsageError(f"--{switched[0]} needs an adversarial --method (--method="
                             f"{config.method} attacks nothing)")
        return
    if config.attack_iterations < 1:
        raise UsageError(f"--attack_iterations=0 leaves --method={config.method} without an "
                         "attack")
    if config.train_eps < 1:
        raise UsageError(f"--train_eps=0 leaves --method={config.method} without an attack budget")
    for record in config.add_ons:
        if record.check is not None:
            record.check(config)


def _check_warmup(config):
    if config.warmup_epochs and config.lr_schedule != "cosine":
        raise UsageError(f"--warmup_epochs={config.warmup_epochs} needs --lr_schedule=cosine "
                         f"(--lr_schedule={config.lr_schedule} has no warm-up)")
    if config.warmup_epochs >= config.epochs:
        raise UsageError(f"--warmup_epochs={config.warmup_epochs} must be smaller than "
                         f"--epochs={config.epochs}, leaving epochs for the cosine decay")
