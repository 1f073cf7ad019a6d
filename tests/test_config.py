"""TrainConfig: YAML round trip, papermill string coercion, validation messages."""

from __future__ import annotations

import pytest

from workbench.config import TrainConfig
from workbench.errors import ConfigError


def test_yaml_round_trip_file_and_text(tmp_path):
    cfg = TrainConfig(
        lora_r=8, learning_rate=5e-4, eval_dataset=None, max_train_rows=100, packing=True
    )
    path = tmp_path / "train_config.yaml"
    cfg.to_yaml(path)
    assert TrainConfig.from_yaml(path) == cfg
    assert TrainConfig.from_yaml(cfg.to_yaml()) == cfg
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_yaml_train_section_and_unknown_keys():
    assert TrainConfig.from_yaml("train:\n  lora_r: 4\nother: 1\n").lora_r == 4
    with pytest.raises(ConfigError, match="Unknown TrainConfig field.*lora_rank"):
        TrainConfig.from_yaml("lora_rank: 4\n")
    assert TrainConfig.from_yaml("lora_rank: 4\n", strict=False) == TrainConfig()
    with pytest.raises(ConfigError, match="not valid YAML"):
        TrainConfig.from_yaml("lora_r: [1,\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        TrainConfig.from_yaml("- 1\n- 2\n")


def test_papermill_strings_are_coerced_to_the_declared_types():
    namespace = {
        "lora_r": "8",
        "learning_rate": "1e-4",
        "packing": "true",
        "group_by_length": "0",
        "epochs": "2",
        "eval_dataset": "None",
        "max_train_rows": "",
        "max_eval_rows": "50",
        "run_dir": "runs/x",
        "interactive": False,
        "some_other_global": object(),
    }
    cfg = TrainConfig.from_parameters(namespace)
    assert (cfg.lora_r, cfg.learning_rate, cfg.epochs) == (8, 1e-4, 2.0)
    assert (cfg.packing, cfg.group_by_length) == (True, False)
    assert (cfg.eval_dataset, cfg.max_train_rows, cfg.max_eval_rows) == (None, None, 50)
    assert isinstance(cfg.epochs, float) and cfg.run_dir == "runs/x"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lora_r": 0}, "lora_r must be > 0"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\)"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"epochs": 0, "max_steps": -1}, "Set epochs > 0 or max_steps > 0"),
        ({"lr_scheduler": "step"}, "lr_scheduler must be one of"),
        ({"dtype": "fp8"}, "dtype must be auto"),
        ({"packing": "maybe"}, "'packing' expects bool, got 'maybe'"),
        ({"lora_r": 2.5}, "'lora_r' expects int, got 2.5"),
        ({"batch_size": "eight"}, "'batch_size' expects int"),
    ],
)
def test_validation_messages_name_the_field_and_the_value(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        TrainConfig(batch_size=-1)
