"""One worker of a two-worker MultiWorkerMirroredStrategy run on localhost, or the one-process
reference: ``python tests/training/multi_worker.py OUTPUT_DIR [WORKER_INDEX PORT0 PORT1]``.

Each process trains the same tiny run (one short epoch, SAT soft labels active) and the test
compares the chief's final weights with the one-process run's.
"""

import json
import os
import sys

if len(sys.argv) == 5:
    index, ports = int(sys.argv[2]), sys.argv[3:5]
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": index}})

from tf_fastls0 import data as data_lib  # noqa: E402
from tf_fastls0.training.config import TrainConfig  # noqa: E402
from tf_fastls0.training.run import train_and_evaluate  # noqa: E402

config = TrainConfig(
    data=data_lib.DataConfig(max_train_examples=64, max_eval_examples=16),
    output_dir=sys.argv[1], model="small_cnn_nobn", width=0.25, method="fast_ls_l0", epochs=1,
    batch_size=16, train_eps=6, eval_eps=6, soft_label_start_epoch=0, val_robust_examples=0, verbose=0,
    strategy="multi_worker" if len(sys.argv) == 5 else "default", deterministic=True,
    mixed_precision="off")  # the test's tolerance is float32's rounding, on any CPU
train_and_evaluate(config)
