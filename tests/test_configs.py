"""Every trainer flagfile in configs/ parses, passes the validators and starts with its command."""

import json
import subprocess
import sys

PARSE_ALL = """
import glob, json, sys
from absl import flags
from tf_fastls0.training.flags import config_from_flags, define_flags
define_flags()
out = {}
for path in sorted(glob.glob("configs/*.flags")):
    if path.startswith("configs/eval_"):
        continue
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--flagfile=" + path])
    config = config_from_flags()
    out[path] = {"method": config.method, "train_eps": config.train_eps, "eval_eps": config.eval_eps,
                 "soft_labels": config.soft_labels, "nfgsm": config.nfgsm_noise,
                 "steps": config.attack_steps, "mode": config.trades_mode, "model": config.model}
print(json.dumps(out))
"""


def test_every_trainer_flagfile_parses_with_the_papers_settings(repo):
    result = subprocess.run([sys.executable, "-c", PARSE_ALL], cwd=repo, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(parsed) >= 20
    eps = {"cifar10": (120, 20), "cifar100": (60, 10), "gtsrb": (72, 12)}
    for path, config in parsed.items():
        name = path.split("/")[-1]
        dataset = name.split("_")[0].removesuffix(".flags")
        if "fast_ls_l0" in name or "step" in name:
            assert (config["train_eps"], config["eval_eps"]) == eps[dataset], path
        if "fast_ls_l0" in name:
            assert config["method"] == "fast_ls_l0" and config["steps"] == 1
            assert config["mode"] == ("T" if name.endswith("_t.flags") else "F")
        if "20step" in name:
            assert config["steps"] == 20
            assert (config["soft_labels"] == "sat" and config["nfgsm"]) == name.endswith("_sn.flags")
    for path in parsed:
        first_line = (repo / path).read_text().splitlines()[0]
        assert first_line.startswith("# python -m tf_fastls0.train --flagfile=" + path), path
