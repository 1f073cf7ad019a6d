"""Techniques on the real tiny model: each trains a few steps with exactly the right parameters frozen."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import torch

from workbench import TrainConfig, get_technique, load_model
from workbench.errors import ConfigError, TechniqueUnavailable
from workbench.estimation.presets import Architecture
from workbench.techniques import all_techniques, available_techniques, register
from workbench.techniques.base import MemoryProfile, Technique
from workbench.techniques.full import Full
from workbench.techniques.lora import LoRA

ALL = ["dora", "freeze", "full", "lora", "qlora"]


def _prepared(name: str, **knobs):
    cfg = TrainConfig(model="tiny-random", technique=name, **knobs)
    tech = get_technique(name)
    tech.check(device="cpu")
    model, _ = load_model("tiny-random", technique=name)
    return tech, cfg, tech.prepare(model, cfg)


def _train(model, steps: int = 3) -> list[float]:
    torch.manual_seed(0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    ids = torch.randint(0, model.config.vocab_size, (2, 24))
    losses = []
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def _is_4bit(p) -> bool:
    return type(p).__name__ == "Params4bit"


def _snapshot(model) -> dict[str, torch.Tensor]:
    """Parameter values. 4-bit weights are left out: bitsandbytes repacks their bytes for its CPU
    kernel on first use, so their storage changes without training; they are checked by grad."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if not _is_4bit(p)}


def test_registry_lists_every_technique_and_refuses_unknown_names():
    assert available_techniques() == ALL
    assert [t.name for t in all_techniques()] == ["full", "freeze", "lora", "dora", "qlora"]
    with pytest.raises(ConfigError, match="Unknown technique 'lorra'.*lora"):
        get_technique("lorra")


@pytest.mark.parametrize("name", ALL)
def test_each_technique_trains_exactly_what_it_says(tiny_model_dir, name):
    tech, cfg, model = _prepared(name, freeze_keep_last=1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    n_trainable = sum(p.numel() for n, p in model.named_parameters() if n in trainable)
    arch = Architecture.from_config(model.config)
    assert n_trainable == tech.count_trainable(arch, cfg)  # the estimator's count is the real one
    before = _snapshot(model)
    losses = _train(model)
    assert all(torch.isfinite(torch.tensor(losses)))
    after = _snapshot(model)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed == trainable, (
        f"{name}: trained {sorted(changed - trainable)}, untouched {sorted(trainable - changed)}"
    )
    assert all(p.grad is None for p in model.parameters() if _is_4bit(p))


def test_full_trains_everything_and_lora_only_adapters(tiny_model_dir):
    _, _, full = _prepared("full")
    assert all(p.requires_grad for p in full.parameters())
    _, _, lora = _prepared("lora")
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all("lora_A" in n or "lora_B" in n for n in names)


def test_freeze_trains_only_the_last_layers(tiny_model_dir):
    _, _, model = _prepared("freeze", freeze_keep_last=1)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(n.startswith(("model.layers.1.", "model.norm.")) for n in names)
    with pytest.raises(ConfigError, match="freeze_keep_last must be between 1 and 2"):
        _prepared("freeze", freeze_keep_last=5)


def test_qlora_base_is_4bit_nf4_and_frozen(tiny_model_dir):
    import bitsandbytes as bnb

    _, _, model = _prepared("qlora")
    linears4 = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(linears4) == 14  # 7 projections x 2 layers
    assert all(
        m.weight.quant_state.quant_type == "nf4" and not m.weight.requires_grad for m in linears4
    )
    assert all(m.weight.quant_state.nested for m in linears4)  # double quantisation
    losses = _train(model, steps=4)
    assert losses[-1] < losses[0]


def _mappings(path) -> int:
    """How many memory maps of `path` this process holds (other tests' models may hold some)."""
    gc.collect()
    return Path("/proc/self/smaps").read_text().count(str(path))


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_qlora_lets_go_of_the_mapped_checkpoint_on_cpu(tiny_model_dir):
    """Quantising reads the whole fp32 checkpoint through a memory map; the unquantised tensors
    (embeddings, norms) are views into it and would keep it resident for the whole run."""
    weights = (tiny_model_dir / "model.safetensors").resolve()
    before = _mappings(weights)
    model, _ = load_model("tiny-random", technique="qlora")
    assert _mappings(weights) == before + 1  # the situation the technique has to fix
    tied = model.config.tie_word_embeddings
    model = get_technique("qlora").prepare(model, TrainConfig(technique="qlora"))
    assert _mappings(weights) == before
    base = model.get_base_model()
    if tied:
        assert base.lm_head.weight is base.model.embed_tokens.weight
    assert _train(model, steps=2)


def test_qlora_load_kwargs_and_refusals(tiny_model_dir):
    kwargs = get_technique("qlora").load_kwargs(dtype=torch.float32, device="cpu")
    q = kwargs["quantization_config"]
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.float32
    model, _ = load_model("tiny-random", technique="lora")  # not quantised
    with pytest.raises(TechniqueUnavailable, match="loaded in 4-bit"):
        get_technique("qlora").prepare(model, TrainConfig(technique="qlora"))
    with pytest.raises(TechniqueUnavailable, match="does not run on device 'mps'"):
        get_technique("qlora").check(device="mps")


class _NeedsMissing(Technique):
    name, title, summary = "needs-missing", "Needs a missing package", "test double"
    memory = MemoryProfile()
    requires = (("surely_not_installed_pkg", "surely-not-installed-pkg", "1.0"),)


class _NeedsNewer(Technique):
    name, title, summary = "needs-newer", "Needs a newer bitsandbytes", "test double"
    requires = (("bitsandbytes", "bitsandbytes", "999.0"),)


def test_requirements_are_refused_with_what_to_install():
    with pytest.raises(TechniqueUnavailable, match="pip install 'surely-not-installed-pkg>=1.0'"):
        _NeedsMissing().check(device="cpu")
    with pytest.raises(TechniqueUnavailable, match="bitsandbytes>=999.0; version .* is installed"):
        _NeedsNewer().check(device="cpu")
    ok, why = _NeedsMissing().available()
    assert not ok and "not installed" in why


def test_saves_adapter_flags():
    saves = {t.name: t.saves_adapter for t in all_techniques()}
    assert saves == {"full": False, "freeze": False, "lora": True, "dora": True, "qlora": True}
    assert get_technique("qlora").describe()["requires"] == ["bitsandbytes>=0.46.1"]


class _SlowAdapter(LoRA):
    """An outside technique: the core must take its policy from the class, not from its name."""

    name, title, summary = "slow-adapter", "Slow adapter", "test double"
    teaching_order = 2  # ties with LoRA: after it by name, before DoRA
    step_time_factor = 3.0

    def estimate_notes(self, hardware, arch):
        return [f"slow on {hardware.name}"]


class _WholeModel(Full):
    name, title, summary = "whole-model", "Whole model", "test double"
    teaching_order = 50


@pytest.fixture
def outside_techniques():
    from workbench.techniques import _REGISTRY

    for cls in (_SlowAdapter, _WholeModel):
        register(cls)
    yield
    for cls in (_SlowAdapter, _WholeModel):
        _REGISTRY.pop(cls.name)


def test_core_asks_the_technique_for_its_policy(outside_techniques, tmp_path):
    from workbench.documents.cards import model_card
    from workbench.documents.facts import RunFacts
    from workbench.estimation.estimator import estimate

    names = [t.name for t in all_techniques()]
    assert names == ["full", "freeze", "lora", "slow-adapter", "dora", "qlora", "whole-model"]
    cfg = TrainConfig(model="llama-3.1-8b")
    lora = estimate(cfg, hardware="l4")
    slow = estimate(cfg.replace(technique="slow-adapter"), hardware="l4")
    assert slow.tokens_per_s == pytest.approx(lora.tokens_per_s / 3)
    assert "slow on l4-24gb" in slow.notes and not any("slow" in n for n in lora.notes)
    assert slow.peak_bytes == lora.peak_bytes  # same memory profile as the LoRA it extends

    def library(technique):  # a run directory whose train_config.yaml names the technique
        run = tmp_path / technique
        TrainConfig(model="tiny-random", technique=technique).to_yaml(run / "train_config.yaml")
        return model_card(RunFacts.read(run)).front_matter["library_name"]

    assert library("slow-adapter") == "peft" and library("whole-model") == "transformers"
    assert library("lora") == "peft" and library("freeze") == "transformers"


def test_builtin_step_time_factors_and_notes():
    from workbench.estimation.presets import MODEL_PRESETS, get_hardware

    assert {t.name: t.step_time_factor for t in all_techniques()} == {
        "full": 1.0,
        "freeze": 1.0,
        "lora": 1.0,
        "dora": 1.2,
        "qlora": 1.4,
    }
    cpu, gpu = get_hardware({"memory_gb": 16, "kind": "cpu"}), get_hardware("l4")
    arch = MODEL_PRESETS["smollm2-135m"]
    assert "correctness demo" in get_technique("qlora").estimate_notes(cpu, arch)[0]
    assert get_technique("qlora").estimate_notes(gpu, arch) == []
    assert "approximate" in get_technique("dora").estimate_notes(gpu, arch)[0]
    assert get_technique("lora").estimate_notes(cpu, arch) == []
