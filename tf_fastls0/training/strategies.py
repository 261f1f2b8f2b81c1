"""tf.distribute strategies by name."""

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name):
    """``default``: one device; ``mirrored``: every local GPU; ``multi_worker``: the cluster
    in TF_CONFIG."""
    import tensorflow as tf  # here, so that reading the names (the flags) needs no TensorFlow

    return {"default": tf.distribute.get_strategy,
            "mirrored": tf.distribute.MirroredStrategy,
            "multi_worker": tf.distribute.MultiWorkerMirroredStrategy}[name]()


def is_chief(strategy):
    """Whether this process writes the run's files (the only one outside multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())
