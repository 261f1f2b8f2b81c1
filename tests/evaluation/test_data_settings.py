"""Which data an evaluation attacks: the run's own data settings when no data flag is given;
the flags given otherwise, with the model's input settings (preprocessing, image size) from its
run unless given."""

import json

from absl import flags

from tf_fastls0.data.config import DataConfig
from tf_fastls0.evaluation.config import EvalConfig, data_config_for
from tf_fastls0.utils import settings

RUN_DATA = {"data_dir": "/data/imagenet100", "preprocessing": "imagenet", "image_size": 64,
            "max_eval_examples": 200}


def run_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"data": RUN_DATA}))
    return str(tmp_path)


def from_command_line(*arguments):
    flag_values = flags.FlagValues()
    settings.define_flags(EvalConfig, flag_values=flag_values)
    flag_values(["evaluate", "--model=runs/x", *arguments])
    return settings.from_flags(EvalConfig, flag_values)


def test_a_data_folder_flag_keeps_the_models_input_settings(tmp_path):
    config = from_command_line("--data_dir=/elsewhere/imagenet100-val")
    data = data_config_for(config, run_folder(tmp_path))
    assert data.data_dir == "/elsewhere/imagenet100-val"
    assert (data.preprocessing, data.image_size) == ("imagenet", 64)
    assert data.max_eval_examples is None  # the subset is the evaluation's (--n_examples)


def test_input_settings_given_replace_the_runs(tmp_path):
    config = from_command_line("--data_dir=/elsewhere", "--image_size=128")
    data = data_config_for(config, run_folder(tmp_path))
    assert (data.preprocessing, data.image_size) == ("imagenet", 128)


def test_no_data_flags_attack_the_runs_data(tmp_path):
    data = data_config_for(from_command_line(), run_folder(tmp_path))
    assert (data.data_dir, data.preprocessing, data.image_size, data.max_eval_examples) == (
        "/data/imagenet100", "imagenet", 64, 200)


def test_a_dataset_flag_attacks_that_dataset(tmp_path):
    data = data_config_for(from_command_line("--dataset=cifar10"), run_folder(tmp_path))
    assert (data.dataset, data.data_dir) == ("cifar10", None)


def test_a_whole_data_config_given_in_code_is_used_as_it_is(tmp_path):
    config = EvalConfig(model="runs/x", data=DataConfig(max_eval_examples=8))
    data = data_config_for(config, run_folder(tmp_path))
    assert (data.data_dir, data.preprocessing, data.max_eval_examples) == (None, "pad_crop", 8)
