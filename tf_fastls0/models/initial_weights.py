"""Training's ``--init_from``: a network starts from the weights of a ``.keras`` model (one we
exported, or a PyTorch checkpoint ``tf_fastls0.convert`` turned into one), matched by layer name.

Every layer of the network that holds weights takes those of the model's layer of the same name
and shapes, BatchNorm statistics included; a layer the model lacks, or one whose shapes differ,
stops the run with one line naming it. Layers without weights may differ: a converted PreAct
ResNet-18 pads its strided convolutions as PyTorch does (``ZeroPadding2D`` layers), while the
network trained here pads them as Keras' "same" does, so fine-tuning starts from the same weights
in a network whose three strided convolutions see their input shifted by a pixel.
"""

import os

from tf_fastls0.utils.cli import UsageError


def load_into(network, path):
    """Sets ``network``'s weights from the ``.keras`` file ``path``; raises ``UsageError``."""
    import keras

    if not os.path.isfile(path) or not path.endswith(".keras"):
        raise UsageError(f"--init_from={path}: not a .keras file")
    try:
        source = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a damaged or foreign file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"--init_from={path}: cannot load it ({reason})") from None
    layers = {layer.name: layer for layer in source.layers}
    assignments = []
    for layer in network.layers:
        if not layer.weights:
            continue
        if layer.name not in layers:
            raise UsageError(f"--init_from={path}: it has no layer {layer.name} (the network "
                             f"{network.name} has)")
        wanted = [tuple(weight.shape) for weight in layer.weights]
        given = [tuple(weight.shape) for weight in layers[layer.name].weights]
        if wanted != given:
            raise UsageError(f"--init_from={path}: layer {layer.name} has weights of shapes "
                             f"{given}, the network's are {wanted}")
        assignments.append((layer, layers[layer.name].get_weights()))
    for layer, values in assignments:
        layer.set_weights(values)
