"""Every flag of ``python -m tf_fastls0.train``; each is optional, with the paper's default."""

from absl import flags

from tf_fastls0.data.flags import data_config_from_flags, define_data_flags
from tf_fastls0.models import MODELS
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.methods import METHODS
from tf_fastls0.training.strategies import STRATEGIES


def define_flags():
    define_data_flags()
    flags.DEFINE_string("output_dir", "runs/default",
                        "Run folder: TensorBoard logs, checkpoints, SavedModel, summary.json.")
    flags.DEFINE_enum("model", "preact_resnet18", sorted(MODELS), "Classifier architecture.")
    flags.DEFINE_float("width", 1.0, "Channel-width multiplier of the model (1 = the paper's).",
                       lower_bound=0.01)
    flags.DEFINE_boolean("sync_batchnorm", False,
                         "Synchronise BatchNorm statistics across replicas (else per replica).")
    flags.DEFINE_enum("method", "standard", sorted(METHODS),
                      "Training method: standard (clean CE), sat (sAT: CE on sPGD examples), "
                      "tradeoff (paper Eq. 8), strades (sTRADES), fast_ls_l0 (1-step sTRADES + SAT "
                      "soft labels + N-FGSM noise; the paper's method).")
    flags.DEFINE_enum("trades_mode", "T", ["T", "F"],
                      "sTRADES attack loss: T = CE to the label, F = the KL term itself.")
    flags.DEFINE_float("trades_beta", 6.0, "sTRADES KL weight beta.", lower_bound=0.0)
    flags.DEFINE_float("tradeoff_alpha", 0.75, "Tradeoff weight of the adversarial CE.",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_enum("soft_labels", "none", ["none", "sat"],
                      "sat: self-adaptive training soft labels (always on for fast_ls_l0).")
    flags.DEFINE_integer("sat_start_epoch", None,
                         "Epoch (0-based) from which SAT soft labels move; default half the epochs.",
                         lower_bound=0)
    flags.DEFINE_float("sat_momentum", 0.9, "SAT moving-average momentum m.",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_enum("sat_attack_target", "soft", ["soft", "hard"],
                      "With SAT, attack CE to the soft target (soft) or to the label (hard).")
    flags.DEFINE_boolean("nfgsm_noise", False, "Add N-FGSM sparse noise (0..2*train_eps pixels) "
                         "before the attack (always on for fast_ls_l0).")
    flags.DEFINE_integer("attack_steps", 1, "sPGD iterations of the training attack (1 = fast "
                         "training, 20 = the multi-step baselines).", lower_bound=0)
    flags.DEFINE_enum("attack_variant", "random", ["random", "projected", "unprojected"],
                      "sPGD gradient variant in training; random draws one per batch (p = 1/2).")
    flags.DEFINE_integer("attack_patience", 10,
                         "sPGD mask restart after this many unchanged steps (training).", lower_bound=1)
    flags.DEFINE_integer("train_eps", 20, "l0 budget (pixels) of the training attack.", lower_bound=0)
    flags.DEFINE_integer("eval_eps", 20, "l0 budget (pixels) of validation and final evaluation.",
                         lower_bound=0)
    flags.DEFINE_integer("val_robust_examples", 200, "Test images of the per-epoch robust "
                         "validation (0 turns it off).", lower_bound=0)
    flags.DEFINE_integer("val_attack_steps", 20, "sPGD iterations per variant (unprojected, then "
                         "projected) of the per-epoch robust validation.", lower_bound=1)
    flags.DEFINE_float("co_robust_drop", 0.5, "Catastrophic overfitting is flagged when validation "
                       "robust accuracy falls below (1 - this) x its best so far ...",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_float("co_train_margin", 0.1, "... while the training-attack accuracy stays within "
                       "this of its best so far.", lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_boolean("stop_on_co", False, "Stop training when catastrophic overfitting is flagged.")
    flags.DEFINE_enum("final_eval", "none", ["none", "saa_quick", "saa_paper"],
                      "Run Sparse-AutoAttack at --eval_eps on the exported model at the end.")
    flags.DEFINE_integer("epochs", 100, "Number of training epochs.", lower_bound=1)
    flags.DEFINE_integer("batch_size", 128, "Global batch size (over all replicas).", lower_bound=1)
    flags.DEFINE_float("learning_rate", 0.05,
                       "Initial learning rate; divided by 10 at 1/4 and 3/4 of training.",
                       lower_bound=0.0)
    flags.DEFINE_float("momentum", 0.9, "SGD momentum.", lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_float("weight_decay", 5e-4,
                       "L2 weight decay added to the gradient before momentum (PyTorch's rule).",
                       lower_bound=0.0)
    flags.DEFINE_boolean("augment", True, "Random crop (4-pixel padding) and horizontal flip.")
    flags.DEFINE_integer("seed", 0, "Seed of the data order, augmentation and attacks.", lower_bound=0)
    flags.DEFINE_enum("strategy", "default", sorted(STRATEGIES),
                      "tf.distribute strategy: default (one device), mirrored (all local GPUs), "
                      "multi_worker (MultiWorkerMirroredStrategy from TF_CONFIG).")
    flags.DEFINE_integer("log_every_steps", 10, "Write per-step TensorBoard scalars this often.",
                         lower_bound=1)
    flags.DEFINE_boolean("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_boolean("resume", True,
                         "Continue from the last checkpoint in --output_dir if there is one.")
    flags.DEFINE_boolean("overwrite", False,
                         "Replace an --output_dir that holds a run with other settings.")
    flags.DEFINE_boolean("deterministic", False, "Deterministic ops (tf.config.experimental."
                         "enable_op_determinism): a resumed run ends with the same weights.")
    flags.DEFINE_integer("checkpoint_every_steps", 0, "Also checkpoint every this many steps "
                         "(0: only at the end of each epoch).", lower_bound=0)
    flags.DEFINE_integer("verbose", None, "Keras verbosity: 0 silent, 1 progress bar, 2 one line "
                         "per epoch; default 1 on a terminal, else 2.", lower_bound=0, upper_bound=2)
    _register_validators()


def _register_validators():
    flags.register_multi_flags_validator(
        ["sat_start_epoch", "epochs"],
        lambda v: v["sat_start_epoch"] is None or v["sat_start_epoch"] < v["epochs"],
        "--sat_start_epoch must be smaller than --epochs")
    flags.register_multi_flags_validator(
        ["method", "attack_steps"],
        lambda v: v["method"] == "standard" or v["attack_steps"] >= 1,
        "--attack_steps=0 leaves an adversarial --method without an attack")
    flags.register_multi_flags_validator(
        ["method", "soft_labels", "nfgsm_noise"],
        lambda v: v["method"] != "standard" or (v["soft_labels"] == "none" and not v["nfgsm_noise"]),
        "--soft_labels and --nfgsm_noise need an adversarial --method")


def config_from_flags(values=flags.FLAGS):
    return TrainConfig(
        data=data_config_from_flags(values, seed=values.seed), output_dir=values.output_dir,
        model=values.model, width=values.width, sync_batchnorm=values.sync_batchnorm,
        method=values.method, trades_mode=values.trades_mode, trades_beta=values.trades_beta,
        tradeoff_alpha=values.tradeoff_alpha, soft_labels=values.soft_labels,
        sat_start_epoch=(values.sat_start_epoch if values.sat_start_epoch is not None
                         else values.epochs // 2),
        sat_momentum=values.sat_momentum, sat_attack_target=values.sat_attack_target,
        nfgsm_noise=values.nfgsm_noise, attack_steps=values.attack_steps,
        attack_variant=values.attack_variant, attack_patience=values.attack_patience,
        train_eps=values.train_eps, eval_eps=values.eval_eps,
        val_robust_examples=values.val_robust_examples, val_attack_steps=values.val_attack_steps,
        co_robust_drop=values.co_robust_drop, co_train_margin=values.co_train_margin,
        stop_on_co=values.stop_on_co, final_eval=values.final_eval, epochs=values.epochs, batch_size=values.batch_size,
        learning_rate=values.learning_rate, momentum=values.momentum,
        weight_decay=values.weight_decay, augment=values.augment, seed=values.seed,
        strategy=values.strategy, log_every_steps=values.log_every_steps,
        jit_compile=values.jit_compile, resume=values.resume, overwrite=values.overwrite,
        deterministic=values.deterministic, checkpoint_every_steps=values.checkpoint_every_steps,
        verbose=values.verbose)
