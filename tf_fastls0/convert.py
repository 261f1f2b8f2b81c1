"""Convert a PyTorch checkpoint of the sPGD reference models into one of our ``.keras`` models:
``python -m tf_fastls0.convert --pytorch=ckpt.pth --model=preact_resnet18 --num_classes=10
--output=model.keras`` (needs the ``torch`` extra). The file it writes is an ordinary model of
ours: ``tf_fastls0.evaluate --model=model.keras``, ``tf_fastls0.analyze`` and training's
``--init_from=model.keras`` take it. Every flag is a field of ``ConvertConfig``
(``interop/pytorch.py``); a checkpoint that does not fit, or is no PyTorch checkpoint, stops
with one line and exit status 2.
"""

from absl import flags, logging

from tf_fastls0.interop.pytorch import ConvertConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError, fail, refuse_positional_arguments, run_main

settings.define_flags(ConvertConfig)
flags.adopt_module_key_flags(settings)  # --helpshort lists them


def main(argv):
    logging.set_verbosity(logging.WARNING)
    refuse_positional_arguments(argv)
    from tf_fastls0.interop.pytorch import convert

    try:
        config = settings.from_flags(ConvertConfig)
        network = convert(config)
    except UsageError as error:
        fail(str(error))
    except OSError as error:  # the output could not be written
        fail(f"{config.output}: {error.strerror or error}", status=1)
    print(f"wrote {config.output}: {config.model}, {network.count_params():,} weights, input "
          f"{tuple(network.input_shape[1:])}")


def run():
    run_main(main)


if __name__ == "__main__":
    run()
