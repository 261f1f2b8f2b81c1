"""Writes the run folders of ``testdata/old_release_run/``: what a release of tf_fastls0 left
behind, so that a later release can be tested on them (``tests/test_old_release_run.py``).

    python testdata/make_old_release_run.py --output_dir=testdata/old_release_run

Run it once, at the release whose folders are kept (``RELEASE`` in the folder says which commit
wrote them), and commit what it writes; never regenerate it with a newer release, or the test
checks nothing. ``finished/`` is a whole run (config.json, checkpoints, SavedModel, .keras file,
summary.json, TensorBoard logs); ``interrupted/`` the same run stopped by Ctrl-C after its first
checkpoint. Both are 1-step Fast-LS-l0 on 128 built-in shapes10 images with a 0.25-wide small CNN,
with the settings whose names have changed since given explicitly.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_string("output_dir", None, "Folder to write (replaced).")
flags.mark_flag_as_required("output_dir")

REPO = pathlib.Path(__file__).resolve().parents[1]
RUN = ["--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
       "--max_train_examples=128", "--max_eval_examples=32", "--method=fast_ls_l0",
       "--train_eps=6", "--eval_eps=6", "--trades_beta=6.0", "--attack_steps=1",
       "--soft_label_start_epoch=0", "--val_robust_examples=16", "--val_attack_steps=2",
       "--val_rs_queries=10", "--log_every_steps=2", "--checkpoint_every_steps=2",
       "--mixed_precision=off", "--deterministic", "--verbose=2"]


def train(output_dir, interrupt_at=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "tf_fastls0.train", *RUN,
                                f"--output_dir={output_dir}"], cwd=REPO, env=env)
    if interrupt_at is not None:
        checkpoint = output_dir / "checkpoints" / f"ckpt-{interrupt_at}.index"
        while not checkpoint.exists() and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
    process.wait()


def main(argv):
    del argv
    output = pathlib.Path(flags.FLAGS.output_dir).resolve()
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    train(output / "finished")
    train(output / "interrupted", interrupt_at=2)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    (output / "RELEASE").write_text(f"{commit}\n{' '.join(RUN)}\n")


if __name__ == "__main__":
    app.run(main)
