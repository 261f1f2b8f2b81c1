"""Installs tf_fastls0: ``pip install -e .`` (CPU), ``.[gpu]`` for CUDA, ``.[art]`` for the
Adversarial Robustness Toolbox adapter (``tf_fastls0.interop.art``), ``.[torch]`` for converting
PyTorch checkpoints (``tf_fastls0.convert``), ``.[test]`` for the tests (both extras included)."""

from setuptools import find_packages, setup

setup(
    name="tf_fastls0",
    version="0.1.0",
    description="Fast (1-step) adversarial training against sparse l0 attacks, in TensorFlow/Keras",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["tf_fastls0", "tf_fastls0.*", "benchmarks", "benchmarks.*"]),
    install_requires=[
        "tensorflow>=2.16,<3",
        "keras>=3",
        "tensorflow-datasets",
        "absl-py",
        "tensorboard",
        "matplotlib",
        "numpy",
        "tqdm",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.16,<3"],
        "art": ["adversarial-robustness-toolbox>=1.20"],
        "torch": ["torch>=2.1"],
        # torch pinned to 2.13.0: this project's machines hold its CPU build on disk (about 1.2 GB
        # installed with ART); an unpinned torch is PyPI's newest, a CUDA build of about 5.7 GB.
        "test": ["pytest", "pytest-xdist", "hypothesis", "adversarial-robustness-toolbox>=1.20",
                 "torch==2.13.0"],
    },
    entry_points={
        "console_scripts": [
            "tf-fastls0-train=tf_fastls0.train:run",
            "tf-fastls0-evaluate=tf_fastls0.evaluate:run",
            "tf-fastls0-analyze=tf_fastls0.analyze:run",
            "tf-fastls0-convert=tf_fastls0.convert:run",
        ],
    },
)
