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
    flags.DEFINE_enum("method", "standard", sorted(METHODS), "Training method.")
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
    flags.DEFINE_integer("verbose", None, "Keras verbosity: 0 silent, 1 progress bar, 2 one line "
                         "per epoch; default 1 on a terminal, else 2.", lower_bound=0, upper_bound=2)


def config_from_flags(values=flags.FLAGS):
    return TrainConfig(
        data=data_config_from_flags(values, seed=values.seed), output_dir=values.output_dir,
        model=values.model, width=values.width, sync_batchnorm=values.sync_batchnorm,
        method=values.method, epochs=values.epochs, batch_size=values.batch_size,
        learning_rate=values.learning_rate, momentum=values.momentum,
        weight_decay=values.weight_decay, augment=values.augment, seed=values.seed,
        strategy=values.strategy, log_every_steps=values.log_every_steps,
        jit_compile=values.jit_compile, resume=values.resume, verbose=values.verbose)
