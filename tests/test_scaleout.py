"""Scale-out export: the written script reproduces a run under `accelerate launch` with 2 CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.training.scaleout import export_script


def _chat_file(path: Path, n: int = 32) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Say {i}."},
                {"role": "assistant", "content": f"{i}"},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_export_writes_script_and_accelerate_templates(run_dir):
    TrainConfig(model="tiny-random", run_dir=str(run_dir)).to_yaml(run_dir / "train_config.yaml")
    out = export_script(run_dir)
    assert out.script.is_file() and (out.folder / "train_config.yaml").is_file()
    assert set(out.configs) == {"ddp", "fsdp", "deepspeed-zero2", "deepspeed-zero3"}
    assert "accelerate launch" in out.command
    compile(out.script.read_text(), str(out.script), "exec")


def test_accelerate_configs_load_back_with_the_expected_keys(run_dir):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import DistributedType

    cfg = TrainConfig(model="tiny-random", run_dir=str(run_dir), grad_accum=4, dtype="bfloat16")
    cfg.to_yaml(run_dir / "train_config.yaml")
    out = export_script(run_dir, gpus=8)
    data = {name: yaml.safe_load(path.read_text()) for name, path in out.configs.items()}
    for name, config in data.items():
        assert config["num_processes"] == 8 and config["mixed_precision"] == "bf16", name
        assert config["use_cpu"] is False and config["same_network"] is True, name
    assert data["ddp"]["distributed_type"] == "MULTI_GPU"
    assert data["ddp"]["downcast_bf16"] == "no"  # the string, not YAML 1.1's boolean
    assert data["fsdp"]["fsdp_config"]["fsdp_version"] == 2
    zero3 = data["deepspeed-zero3"]["deepspeed_config"]
    assert zero3["zero_stage"] == 3 and zero3["gradient_accumulation_steps"] == 4
    assert zero3["gradient_clipping"] == cfg.max_grad_norm and zero3["zero3_init_flag"] is True
    assert data["deepspeed-zero2"]["deepspeed_config"]["zero_stage"] == 2
    expected = {
        "ddp": DistributedType.MULTI_GPU,
        "fsdp": DistributedType.FSDP,
        "deepspeed-zero2": DistributedType.DEEPSPEED,
        "deepspeed-zero3": DistributedType.DEEPSPEED,
    }
    for name, path in out.configs.items():  # accelerate's own loader refuses unknown keys
        loaded = ClusterConfig.from_yaml_file(path)
        assert loaded.distributed_type == expected[name] and loaded.num_processes == 8
    cfg.replace(dtype="auto").to_yaml(run_dir / "train_config.yaml")
    fp32 = export_script(run_dir, out_dir=run_dir / "fp32")  # dtype auto: no mixed precision
    assert yaml.safe_load(fp32.configs["ddp"].read_text())["mixed_precision"] == "no"


def test_export_without_a_config_says_what_to_do(run_dir):
    with pytest.raises(ConfigError, match="Train or choose a technique first"):
        export_script(run_dir)


@pytest.mark.slow
def test_exported_script_trains_with_two_processes(tiny_model_dir, tmp_path):
    source = tmp_path / "source"
    data = _chat_file(tmp_path / "chat.jsonl")
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(data),
        run_dir=str(source),
        max_steps=4,
        batch_size=2,
        log_every=1,
        eval_every=0,
        eval_at_start=False,
        max_length=256,
        save_every=2,
    )
    cfg.to_yaml(source / "train_config.yaml")
    out = export_script(source)
    target = tmp_path / "launched"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    launcher = Path(sys.executable).with_name("accelerate")
    cmd = [
        str(launcher),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(out.script),
        str(target),
    ]
    proc = subprocess.run(cmd, env=env, cwd=out.folder, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((target / "train_result.json").read_text())
    assert result["status"] == "completed" and result["world_size"] == 2 and result["steps"] == 4
    assert (target / "adapter" / "adapter_model.safetensors").is_file()
    ckpt = target / "checkpoints" / "checkpoint-4"
    assert (ckpt / "rng_state_0.pth").is_file() and (ckpt / "rng_state_1.pth").is_file()
