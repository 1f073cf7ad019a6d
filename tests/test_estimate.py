"""The estimator: presets match public sizes, formulas match what autograd really saves, probe measures."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from workbench import TrainConfig, get_technique, load_model
from workbench.errors import ConfigError
from workbench.estimation.estimator import (
    COMPONENTS,
    Estimate,
    compare_techniques,
    estimate,
    estimate_config,
    resolve_architecture,
)
from workbench.estimation.memory import activation_bytes, training_for
from workbench.estimation.presets import GB, MODEL_PRESETS, Architecture, get_hardware

# Parameter counts published on each model card (billions, rounded as published).
PUBLISHED_PARAMS = {
    "llama-3.1-8b": 8.03,
    "llama-3.1-70b": 70.6,
    "mistral-7b": 7.25,
    "qwen2.5-7b": 7.62,
    "qwen2.5-0.5b": 0.49,
    "smollm2-135m": 0.135,
    "smollm2-1.7b": 1.71,
    "llama-3.2-1b": 1.24,
}


@pytest.mark.parametrize("name,billions", PUBLISHED_PARAMS.items())
def test_presets_have_the_published_parameter_counts(name, billions):
    assert MODEL_PRESETS[name].params / 1e9 == pytest.approx(billions, rel=0.01)


def test_architecture_of_a_real_model_counts_its_parameters(tiny_model_dir):
    model, _ = load_model("tiny-random", technique="full")
    arch = Architecture.from_config(model.config)
    assert arch.params == sum(p.numel() for p in model.parameters())
    assert resolve_architecture("tiny-random") == Architecture.from_config(
        json.loads((tiny_model_dir / "config.json").read_text()), name="tiny-random"
    )
    assert resolve_architecture(model).params == arch.params


def _saved_activation_elems(model, tokens_shape) -> float:
    """Elements autograd saves for backward that are neither parameters nor logits-sized."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}
    vocab = model.config.vocab_size

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params and not (t.dim() and t.shape[-1] == vocab):
            seen[ptr] = max(seen.get(ptr, 0), t.untyped_storage().nbytes())
        return t

    ids = torch.randint(0, vocab, tokens_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids)
    return sum(seen.values()) / 4


@pytest.mark.parametrize(
    "name,dropout", [("full", 0.0), ("lora", 0.0), ("lora", 0.05), ("qlora", 0.05)]
)
def test_activation_formula_matches_what_autograd_saves(tiny_model_dir, name, dropout):
    cfg = TrainConfig(model="tiny-random", technique=name, lora_dropout=dropout)
    tech = get_technique(name)
    model, _ = load_model("tiny-random", technique=name)
    model = tech.prepare(model, cfg)
    model.train()
    b, s = 2, 64
    measured = _saved_activation_elems(model, (b, s))
    arch = Architecture.from_config(model.config)
    formula = activation_bytes(
        arch, training_for(tech, arch, cfg), tokens=b * s, act_bytes=4, checkpointing=False
    )
    assert formula / 4 == pytest.approx(measured, rel=0.08)  # 135M: within 1% (memory.py docstring)


LLAMA_FULL, LLAMA_LORA = (
    TrainConfig(model="llama-3.1-8b", technique="full"),
    TrainConfig(model="llama-3.1-8b"),
)


def test_breakdown_adds_up_and_follows_the_bytes_per_parameter_rules():
    n = MODEL_PRESETS["llama-3.1-8b"].params
    full_cpu = estimate(LLAMA_FULL, hardware={"memory_gb": 1000, "kind": "cpu"})
    assert set(full_cpu.breakdown) == set(COMPONENTS)
    assert full_cpu.peak_bytes == pytest.approx(sum(full_cpu.breakdown.values()))
    static = sum(full_cpu.breakdown[k] for k in ("weights", "gradients", "optimizer"))
    assert static == pytest.approx(16 * n)  # fp32 AdamW: 4 + 4 + 8 bytes per parameter
    full_gpu = estimate(LLAMA_FULL, hardware="h100")
    assert sum(
        full_gpu.breakdown[k] for k in ("weights", "gradients", "optimizer")
    ) == pytest.approx(8 * n)
    qlora = estimate(LLAMA_LORA.replace(technique="qlora"), hardware="h100")
    arch = MODEL_PRESETS["llama-3.1-8b"]
    nf4 = (
        arch.linear_params * (4 + 8 / 64 + 32 / (64 * 256)) / 8
        + (arch.params - arch.linear_params) * 4
    )
    assert qlora.breakdown["weights"] == pytest.approx(nf4)
    lora = estimate(LLAMA_LORA, hardware="h100")
    assert (
        qlora.breakdown["weights"] < lora.breakdown["weights"] / 2 < full_gpu.breakdown["weights"]
    )
    assert lora.breakdown["optimizer"] == pytest.approx(lora.trainable_params * 8)  # fp32 adapters


def test_shape_knobs_move_the_right_components():
    cfg = TrainConfig(model="qwen2.5-7b", max_length=1024, batch_size=4)
    base = estimate(cfg, hardware="a100")
    double = estimate(cfg.replace(batch_size=8), hardware="a100")
    ckpt = estimate(cfg.replace(gradient_checkpointing=True), hardware="a100")
    assert double.breakdown["activations"] == pytest.approx(2 * base.breakdown["activations"])
    assert double.breakdown["weights"] == base.breakdown["weights"]
    assert ckpt.breakdown["activations"] < base.breakdown["activations"] / 5
    assert ckpt.tokens_per_s < base.tokens_per_s


def test_chunked_loss_and_pure_bf16_move_only_their_components():
    cfg = TrainConfig(model="llama-3.1-8b", technique="qlora", max_length=2048, batch_size=2)
    plain = estimate(cfg, hardware="rtx-4090-24gb")
    full = estimate(cfg, hardware="rtx-4090-24gb", full_logits=True)
    chunked = estimate(cfg, hardware="rtx-4090-24gb", loss_chunks=8)
    tokens, vocab = 2048 * 2, MODEL_PRESETS["llama-3.1-8b"].vocab
    hidden = MODEL_PRESETS["llama-3.1-8b"].hidden
    # the workbench's loss: one chunk of 1,024 labelled rows in fp32, plus the gathered states
    assert plain.breakdown["logits"] == pytest.approx(1024 * vocab * 8 + tokens * hidden * 2)
    assert full.breakdown["logits"] == pytest.approx(tokens * vocab * (2 + 4 + 4))
    assert chunked.breakdown["logits"] == pytest.approx(tokens * vocab * 2 + tokens / 8 * vocab * 8)
    for other in (full, chunked):
        assert {k: v for k, v in other.breakdown.items() if k != "logits"} == {
            k: v for k, v in plain.breakdown.items() if k != "logits"
        }
    assert "full-logits loss" in full.to_text()
    pure = estimate(cfg, hardware="rtx-4090-24gb", pure_bf16=True)
    for part in ("adapters", "gradients", "optimizer"):  # fp32 -> bf16: half
        assert pure.breakdown[part] == pytest.approx(plain.breakdown[part] / 2)
    arch = MODEL_PRESETS["llama-3.1-8b"]
    unquantised = arch.params - arch.linear_params
    assert plain.breakdown["weights"] - pure.breakdown["weights"] == pytest.approx(2 * unquantised)
    assert "pure bf16" in pure.to_text() and "loss in 8 chunks" in chunked.to_text()
    cpu = estimate(hardware={"memory_gb": 64, "kind": "cpu"}, pure_bf16=True)
    assert not cpu.pure_bf16  # CPUs train in fp32: the knob does not apply
    with pytest.raises(ConfigError, match="loss_chunks"):
        estimate(loss_chunks=0)


def test_fit_time_and_cost():
    big = estimate(TrainConfig(model="llama-3.1-70b", technique="full"), hardware="h200")
    assert not big.fits and big.headroom_bytes < 0
    small = estimate(
        TrainConfig(model="smollm2-135m", epochs=2),
        hardware="t4",
        dataset_tokens=3_600_000,
        hourly_price=0.5,
    )
    assert small.fits and small.headroom_bytes == pytest.approx(16 * GB - small.peak_bytes)
    assert small.epochs == 2  # from the config
    assert small.wall_s == pytest.approx(2 * 3_600_000 / small.tokens_per_s)
    assert small.cost == pytest.approx(small.wall_s / 3600 * 0.5)
    data = json.loads(json.dumps(small.to_dict()))
    assert data["fits"] is True and Estimate.from_dict(data).peak_bytes == small.peak_bytes
    assert "fits" in small.to_text() and "<table>" in small._repr_html_()


def test_freeze_keeps_activations_only_for_trained_layers():
    cfg = TrainConfig(model="smollm2-135m", technique="freeze", freeze_keep_last=2)
    freeze = estimate(cfg, hardware="l4")
    full = estimate(cfg.replace(technique="full"), hardware="l4")
    assert freeze.breakdown["activations"] < full.breakdown["activations"] / 10


def test_hardware_and_model_errors_say_what_to_do():
    assert get_hardware({"memory_gb": 24, "name": "my-gpu"}).memory_bytes == 24 * GB
    assert get_hardware("a100-40").memory_bytes == 40 * GB
    with pytest.raises(ConfigError, match="Presets: this-cpu"):
        get_hardware("tpu-v9")
    with pytest.raises(ConfigError, match="Unknown optimizer"):
        estimate(optimizer="lion")
    with pytest.raises(ConfigError, match="Presets:"):
        estimate(TrainConfig(model="nobody/no-such-model-xyz"), hardware="t4")
    with pytest.raises(ConfigError, match="takes a TrainConfig, got str"):
        estimate("llama-3.1-8b")


def test_compare_and_calibrate_with_a_probe_in_process(tiny_model_dir):
    from workbench.estimation.calibration import probe

    cfg = TrainConfig(model="tiny-random", technique="lora", max_length=32, batch_size=2)
    result = probe(cfg, steps=2, isolated=False)
    assert result.peak_bytes > 0 and result.step_s > 0 and len(result.losses) == 2
    assert 0.3 < result.memory_ratio < 3  # same order; the benchmark holds the tight comparison
    est = result.estimate
    corrected = est.calibrated(result)
    assert corrected.peak_bytes == pytest.approx(est.peak_bytes * result.memory_ratio)
    assert corrected.tokens_per_s == pytest.approx(result.tokens_per_s)
    assert json.loads(json.dumps(result.to_dict()))["memory_ratio"] == pytest.approx(
        result.memory_ratio
    )
    names = [e.technique for e in compare_techniques(config=cfg, hardware="t4")]
    assert names == ["full", "freeze", "lora", "dora", "qlora"]  # teaching order


def test_the_probe_runs_the_batch_as_the_engine_does(tiny_model_dir):
    """The probe splits the batch into the engine's micro-batches (its peak is the training
    peak, not the whole batch's), and the accumulated loss is the whole batch's loss."""
    from workbench.estimation.calibration import probe
    from workbench.estimation.estimator import micro_batch_size

    whole = TrainConfig(model="tiny-random", technique="lora", max_length=32, batch_size=4)
    split = whole.replace(micro_batch_size=1)
    a = probe(whole, steps=2, isolated=False)
    b = probe(split, steps=2, isolated=False)
    assert a.micro_batch_size == micro_batch_size(whole, device="cpu")
    assert b.micro_batch_size == 1
    # the first loss comes before any update (a fresh LoRA adds nothing): the same batch's loss
    assert b.losses[0] == pytest.approx(a.losses[0], rel=1e-5)
    assert "as micro-batches of 1" in b._repr_html_()


def test_cli_prints_the_table(capsys):
    from workbench.cli import main

    code = main(
        [
            "estimate",
            "--model",
            "llama-3.1-8b",
            "--technique",
            "all",
            "--hardware",
            "a10",
            "--max-length",
            "1024",
            "--batch-size",
            "2",
            "--grad-checkpointing",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1  # full fine-tuning of 8B does not fit a 24 GB A10
    for name in ("full", "lora", "qlora", "dora", "freeze", "weights", "activations", "fits"):
        assert name in out
    assert (
        main(
            [
                "estimate",
                "--model",
                "smollm2-135m",
                "--technique",
                "qlora",
                "--hardware",
                "t4",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["technique"] == "qlora"


def test_cli_takes_explicit_hardware_and_the_modelling_knobs(capsys):
    from workbench.cli import main

    laptop = '{"memory_gb": 2, "kind": "cpu", "name": "laptop"}'
    args = ["estimate", "--hardware", laptop, "--max-length", "1024", "--batch-size", "8", "--json"]
    assert main(args) == 1
    plain = json.loads(capsys.readouterr().out)[0]
    assert plain["hardware"] == "laptop" and not plain["fits"]
    assert any("cpu_low_memory=True" in note for note in plain["notes"])
    main([*args, "--cpu-low-memory"])
    low = json.loads(capsys.readouterr().out)[0]
    assert low["peak_bytes"] < plain["peak_bytes"]
    main(["estimate", "--hardware", "l4", "--loss-chunks", "8", "--pure-bf16", "--json"])
    knobs = json.loads(capsys.readouterr().out)[0]
    assert knobs["loss_chunks"] == 8 and knobs["pure_bf16"]
    assert main(["estimate", "--hardware", '{"memory_gb": 8']) == 2
    assert "not valid JSON" in capsys.readouterr().err
    main(["estimate", "--seq-len", "1024", "--lora-r", "64", "--json"])  # the old flag name
    old = json.loads(capsys.readouterr().out)[0]
    assert old["max_length"] == 1024 and old["trainable_params"] > plain["trainable_params"]


def test_memory_figure_has_a_bar_per_component_and_the_limit():
    from workbench.plots import memory_figure

    fig = memory_figure(
        compare_techniques(["full", "lora", "qlora"], config=LLAMA_LORA, hardware="l40s")
    )
    assert [t.name for t in fig.data] == list(COMPONENTS)
    assert list(fig.data[0].x) == ["full", "lora", "qlora"]
    assert any(s.y0 == pytest.approx(48) for s in fig.layout.shapes)


def test_the_older_keyword_form_still_works_and_warns():
    """Notebooks written before estimate() took a TrainConfig keep running (with a warning)."""
    cfg = TrainConfig(model="qwen2.5-7b", technique="qlora", max_length=1024, batch_size=2)
    new = estimate(cfg, hardware="l4", hourly_price=1.0)
    with pytest.warns(DeprecationWarning, match="seq_len is now max_length"):
        old = estimate(
            model="qwen2.5-7b",
            technique="qlora",
            hardware="l4",
            seq_len=1024,
            batch_size=2,
            hourly_price=1.0,
            config=TrainConfig(),
        )
    assert old.to_dict() == new.to_dict()
    with pytest.warns(DeprecationWarning):
        listed = compare_techniques(
            ["lora", "qlora"], model="qwen2.5-7b", seq_len=1024, batch_size=2, hardware="l4"
        )
    assert listed[1].to_dict() == new.to_dict() | {"hourly_price": None, "cost": None}
    with pytest.warns(DeprecationWarning):
        assert estimate_config(cfg, hardware="l4").peak_bytes == new.peak_bytes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate(cfg, hardware="l4")  # the new form does not warn
    with pytest.raises(TypeError, match="seq_length"):
        estimate(seq_length=1024)


def test_saved_estimates_from_before_the_rename_load():
    data = estimate(hardware="t4").to_dict()
    data["seq_len"] = data.pop("max_length")
    assert Estimate.from_dict(data).max_length == 512


def test_estimate_panel_estimates_the_config_its_widgets_describe():
    from workbench.ui.estimate import EstimatePanel

    cfg = TrainConfig(model="llama-3.1-8b", lora_r=64, max_length=1024)
    panel = EstimatePanel(config=cfg, hardware="l4")
    assert panel.max_length.value == 1024 and panel.technique.value == "lora"
    panel.max_length.value, panel.batch_size.value = 2048, 2
    panel.button.click()
    by_name = {e.technique: e for e in panel.estimates}
    assert list(by_name) == ["full", "freeze", "lora", "dora", "qlora"]
    assert by_name["lora"].max_length == 2048 and by_name["lora"].batch_size == 2
    wanted = estimate(cfg.replace(max_length=2048, batch_size=2), hardware="l4")
    assert by_name["lora"].to_dict() == wanted.to_dict()  # lora_r=64 kept from the config
    assert panel.config().lora_r == 64 and "<table>" in panel.table.value
    with pytest.warns(DeprecationWarning):
        old = EstimatePanel(model="llama-3.1-8b", seq_len=512, hardware="l4")
    assert old.max_length.value == 512 and old.model.value == "llama-3.1-8b"
