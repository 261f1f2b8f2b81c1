"""tf_fastls0: fast (1-step) adversarial training against sparse, l0-bounded attacks."""

__version__ = "0.1.0"
