"""Speed and accuracy measurements of tf_fastls0; every module here is an absl program."""

# Before any benchmark imports TensorFlow: the package turns on oneDNN's CPU kernels where
# TensorFlow leaves them off (tf_fastls0/__init__.py), so benchmarks time what the commands run.
import tf_fastls0  # noqa: F401
