"""Bridges to other tools: ``art`` (our attacks as Adversarial Robustness Toolbox attacks; the
``art`` extra) and ``pytorch`` (the sPGD authors' PyTorch checkpoints as our Keras models; the
``torch`` extra). Neither is imported by the rest of the package."""
