"""A new setting of the training attack takes its ``TrainConfig`` field and its name in
``recipe.ATTACK_READS`` (beside its use in ``recipe.py``'s attack call): this test writes exactly
those two edits into a copy of the package and checks what the rest of it made of the setting:
its flag and help, ``config.json``, HParams, and the Python API, which takes it as a keyword for
the adversarial methods and refuses it for standard training."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

FIELD = '''    attack_toy_margin: int = setting(0, "Toy: a training-attack setting.", lower=0)
'''
ANCHOR = "    train_eps: Optional[int] = setting("

PROBE = '''
import json
import keras
from absl import flags
import tf_fastls0
from tf_fastls0.training import hparams
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError

settings.define_flags(TrainConfig)
flags.FLAGS(["probe", "--attack_toy_margin=4", "--method=sparse_at"])
config = settings.from_flags(TrainConfig)
classifier = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                               keras.layers.Dense(3)])
tf_fastls0.SparseAdversarialModel(classifier, "sparse_at", attack_toy_margin=2)
try:
    tf_fastls0.SparseAdversarialModel(classifier, "standard", attack_toy_margin=2)
    refusal = None
except UsageError as error:
    refusal = str(error)
print(json.dumps({
    "help": flags.FLAGS["attack_toy_margin"].help,
    "from_flag": config.attack_toy_margin,
    "read_back": TrainConfig.from_dict(config.to_dict()).attack_toy_margin,
    "hparams": hparams.logged_settings(config).get("attack_toy_margin"),
    "refusal": refusal,
}))
'''


def test_a_training_attack_setting_is_its_field_and_one_name_in_attack_reads(tmp_path):
    repo = pathlib.Path(__file__).resolve().parents[2]
    package = tmp_path / "tf_fastls0"
    shutil.copytree(repo / "tf_fastls0", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    config = package / "training" / "config.py"
    text = config.read_text()
    assert text.count(ANCHOR) == 1
    config.write_text(text.replace(ANCHOR, FIELD + ANCHOR))
    recipe = package / "training" / "recipe.py"
    text = recipe.read_text()
    assert text.count('ATTACK_READS = ("train_eps",') == 1
    recipe.write_text(text.replace('ATTACK_READS = ("train_eps",',
                                   'ATTACK_READS = ("attack_toy_margin", "train_eps",'))
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(tmp_path),
                                     TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["help"].startswith("Toy: a training-attack setting.")
    assert report["from_flag"] == 4 and report["read_back"] == 4 and report["hparams"] == 4
    assert "attack_toy_margin= does not apply to method 'standard'" in (report["refusal"] or "")
