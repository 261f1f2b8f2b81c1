"""Copies of a network with one part taken out, for ``profile_step``'s ablations (a module of
its own, without flags, so tests import it beside other benchmarks)."""

import keras


def without(network, variant):
    """A copy of ``network`` with its BatchNorm layers as identities, or its softplus as ReLU."""

    def clone(layer):
        if variant == "no_batchnorm" and isinstance(layer, keras.layers.BatchNormalization):
            return Identity(name=layer.name)
        if (variant == "relu" and isinstance(layer, keras.layers.Activation)
                and layer.get_config()["activation"] == "softplus"):
            return keras.layers.Activation("relu", name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(network, clone_function=clone)


class Identity(keras.layers.Layer):
    """The identity, called as BatchNormalization is (``training``, ``mask``)."""

    def call(self, inputs, training=None, mask=None):
        return inputs
