# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,language_info,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   language_info:
#     name: python
#     version: '3.11'
# ---

# %% [markdown]
# # 02 · Choose the lever, the technique, and what it will cost
#
# Fine-tuning is one of three levers, and often not the first one to pull:
#
# * **Prompt engineering**: instructions and a few examples in the prompt. No training, changes in
#   minutes. Always the first step, and the baseline any fine-tuned model has to beat.
# * **Retrieval (RAG)**: look the relevant documents up at question time and put them in the prompt.
#   The way to use knowledge that changes, and the only one of the three that can cite its sources.
# * **Fine-tuning**: change the model's weights with examples. It changes *behaviour*: a tone, a
#   fixed output format such as a strict JSON schema, a domain's jargon, one repetitive task done by
#   a smaller and cheaper model, or a self-hosted model when data must stay in-house. Examples
#   teach what to say (*instruction tuning*, SFT); pairs of a better and a worse answer to one
#   prompt teach "this, not that" (*preference tuning*, DPO), which suits a tone or a style best.
#   The advisor asks how many of each you have.
#
# The three combine: a fine-tuned model that answers in your format, over documents that retrieval
# supplies. This notebook asks a few questions, recommends a lever with its reasons, then estimates
# the memory, time and cost of each fine-tuning technique, and checks the estimate with a few real
# training steps on this machine. Its choice is written to `technique.json` for notebook 03.

# %% tags=["parameters"]
run_dir = "runs/latest"          # technique.json is written here for notebook 03
interactive = True               # papermill passes False: same calls, no widgets
# the run to estimate and train (any TrainConfig field may be added here). The defaults are the
# README's quick profile (examples/demo.yaml `quick`): 20 steps of 8 conversations at lr 1e-3.
dataset = None                   # None: what notebook 01 inspected (else orders-json)
model = None                     # None: notebook 01's model (else smollm2-135m-instruct); or a preset
                                 # (llama-3.1-8b, qwen2.5-7b, ...), a local folder, a hub id
max_length = None                # None: notebook 01's cutoff (else 384 tokens)
technique = "lora"               # full | freeze | lora | dora | qlora
objective = "sft"                # sft: examples | dpo: preference pairs (a better and a worse answer)
hardware = "this-cpu"            # this-cpu | t4 | l4 | a10 | l40s | a100-40 | a100 | h100 | h200
batch_size = 8
max_steps = 20                   # > 0: this many optimizer steps; -1: train `epochs` whole epochs
epochs = 1.0
learning_rate = 0.001            # the quick profile: LoRA learns orders-json in 20 steps
max_train_rows = 160             # None: every training row
max_eval_rows = 16               # None: the whole eval split (evaluated at the start and the end)
log_every = 5
gradient_checkpointing = False
cpu_low_memory = False           # CPU: give freed memory back at once (lower peak RAM, slower steps)
lora_r = 16
hourly_price = None              # price of the hardware per hour, for the cost
run_probe = False                # True: run a few real steps here to check the estimate (minutes)
probe_steps = 3
# the lever trial (section 1b): measure prompting, retrieval and short fine-tunes on the eval rows
run_lever_trial = False          # True: run it (minutes: three short trainings plus answering)
lever_arms = "zero-shot,few-shot,retrieval,finetune"  # add ",constrained": the largest few-shot
                                 # prompt and fine-tune decoded against the JSON schema (orders-json)
few_shot_k = "1,3"               # one few-shot arm per k: the k most similar training rows
knowledge = None                 # the file retrieval searches; None: the sample's (product-jargon
                                 # ships catalogue.json), else the training answers
lever_fractions = "0.25,0.5,1"   # slices of the training rows the short fine-tunes use
lever_margin = 0.05              # the lead fine-tuning needs over the best prompt-only arm
max_new_tokens = 160             # answer length cap (the longest orders-json answer is 154 tokens)
# the advisor's questions
knowledge_changes_often = False
needs_citations = False
goal_tone = False
goal_format = True
goal_jargon = False
cost_at_volume = True
data_in_house = True
good_examples = None             # None: the number of conversations in `dataset` (0 for pairs)
prompting_tried = False
preference_pairs = None          # None: the pairs in `dataset` for a "dpo" objective, else 0

# %%
import logging
import warnings

from IPython.display import HTML, Markdown, display

from workbench import (
    DatasetReport,
    RunDir,
    TechniqueChoice,
    TrainConfig,
    advise,
    all_techniques,
    compare_techniques,
    dataset_rows,
    dataset_tokens,
    estimate,
    memory_figure,
    probe,
    write_figures_html,
)

logging.basicConfig(level=logging.WARNING)
warnings.filterwarnings("ignore", module=r"(transformers|bitsandbytes|torch)\b")  # library notices
logging.getLogger("transformers").setLevel(logging.ERROR)
inspected = DatasetReport.load_optional(run_dir)  # notebook 01's choice: data, model, cutoff
if inspected is not None:
    dataset = dataset or inspected.provenance.get("sample") or inspected.provenance.get("source")
    model = model or inspected.model
    max_length = max_length or (inspected.lengths or {}).get("max_length")
dataset, model, max_length = dataset or "orders-json", model or "smollm2-135m-instruct", max_length or 384
cfg = TrainConfig.from_parameters(globals()).replace(run_dir=str(run_dir))
rd = RunDir(run_dir)
display(Markdown(f"**The run**: `{cfg.technique}` on `{cfg.model}`, data `{cfg.dataset}` "
                 f"({'as inspected in notebook 01' if inspected is not None else 'notebook 01 did not run'}), "
                 f"max_length {cfg.max_length}, {cfg.max_steps} steps x {cfg.batch_size} at lr {cfg.learning_rate:g}."))
cfg

# %% [markdown]
# ## 1 · Which lever?
#
# Tick what is true for your project. Every point for or against a lever is listed, so you can
# disagree with a reason rather than with a verdict.

# %%
pairs_data = cfg.objective == "dpo"  # the data holds preference pairs, not examples
if good_examples is None:
    good_examples = 0 if pairs_data else dataset_rows(dataset, config=cfg)
if preference_pairs is None:
    preference_pairs = dataset_rows(dataset, config=cfg) if pairs_data else 0
answers = dict(knowledge_changes_often=knowledge_changes_often, needs_citations=needs_citations,
               goal_tone=goal_tone, goal_format=goal_format, goal_jargon=goal_jargon,
               cost_at_volume=cost_at_volume, data_in_house=data_in_house,
               good_examples=int(good_examples), prompting_tried=prompting_tried,
               preference_pairs=int(preference_pairs))
advice = advise(**answers)
advice

# %%
if interactive:
    from workbench.ui.advisor import AdvisorForm

    form = AdvisorForm(**answers)
    display(form.widget)

# %% [markdown]
# ## 1b · Measure the levers instead of guessing
#
# The advisor reasons from your answers; the **lever trial** measures. Every arm answers the same
# eval rows notebook 04 will compare on, scored with the same metrics:
#
# * **zero-shot**: the base model with the data's system prompt, as it is;
# * **few-shot k**: the k training rows most like the question (BM25) shown as earlier turns,
#   the most similar nearest the question;
# * **retrieval k**: the k passages of a knowledge file most like the question (BM25) put into the
#   system message (without a knowledge file: the training answers);
# * **fine-tune p%**: short runs of the configuration above on 25%, 50% and 100% of the training
#   rows (the same epochs), whose scores against the row counts give a learning curve.
#
# Fine-tuning is recommended only when its paired lead over the best prompt-only arm (same rows,
# 95% bootstrap interval) is above the margin and the interval above zero: otherwise the cheaper
# lever wins. The pipeline gate `min_finetune_lead` can require it. It takes minutes on a CPU, so
# it is off by default: set `run_lever_trial = True`.
#
# A **classification** run (`task = "classification"`) answers with a label, not a text: its lever
# trial is notebook 04, which scores the trained head against the base model prompted zero-shot
# and few-shot to pick a label, on the same held-out rows with a paired interval.

# %%
trial = None
if run_lever_trial:
    from workbench import lever_trial, lever_trial_figures

    trial = lever_trial(
        cfg,
        arms=tuple(a.strip() for a in lever_arms.split(",") if a.strip()),
        few_shot_k=tuple(int(k) for k in str(few_shot_k).split(",")),
        knowledge=knowledge,
        fractions=tuple(float(f) for f in str(lever_fractions).split(",")),
        max_new_tokens=max_new_tokens,
        margin=lever_margin,
        hourly_price=hourly_price,
        advice=advice,
    )
    display(trial)
    for figure in lever_trial_figures(trial).values():
        figure.show()
else:
    display(Markdown("Lever trial skipped (`run_lever_trial = False`); `workbench levers params.yaml` "
                     "runs it from a terminal."))

# %% [markdown]
# ## 2 · Which technique?
#
# All of them train on chat-formatted examples with the loss on the assistant's replies only
# (*instruction tuning* is a data mode, not a technique: it combines with each row below).
#
# * **Full fine-tuning** trains every weight: the highest ceiling and the most memory (with AdamW
#   about 16 bytes per parameter before activations). Saves a whole model.
# * **Freeze** trains only the top few layers: cheap, a full model to save.
# * **LoRA** trains small low-rank matrices beside the frozen weights: a few percent of the
#   parameters, a small adapter file; the default for most business cases.
# * **DoRA** is LoRA plus a learned magnitude per output: often a little better at low rank, slower.
# * **QLoRA** is LoRA on a base quantised to 4 bits (NF4): the base takes about a quarter of its
#   16-bit size, so a bigger model fits one GPU (the QLoRA paper tuned a 65B model on one 48 GB GPU).
#   It is slower per step, and on a CPU it is a demonstration rather than a speed-up.

# %%
rows = []
for tech in all_techniques():
    ok, why = tech.available(device="cpu" if hardware == "this-cpu" else "cuda")
    rows.append(f"<tr><td><b>{tech.name}</b></td><td>{tech.summary}</td>"
                f"<td>{'adapter' if tech.saves_adapter else 'full model'}</td>"
                f"<td>{'yes' if ok else 'no: ' + why}</td></tr>")
display(HTML("<table><tr><th>technique</th><th>what it does</th><th>saves</th><th>available here</th></tr>"
             + "".join(rows) + "</table>"))

# %% [markdown]
# ## 3 · What will it cost?
#
# Peak memory is the sum of the **weights**, the **gradients** and **optimizer** state of what is
# trained (AdamW keeps two numbers per trained parameter), the LoRA **adapters**, the
# **activations** kept for the backward pass (they grow with batch × sequence length; gradient
# checkpointing trades them for about a third more compute), the **logits** (batch × sequence ×
# vocabulary, large for small models with big vocabularies) and a fixed **overhead** (runtime, CUDA
# context). The formulas and their sources are in `workbench/memory.py`. The red line is the
# chosen hardware's memory.

# %%
tokens = dataset_tokens(dataset, max_length=cfg.max_length, config=cfg)
if cfg.max_steps > 0:  # the run trains max_steps batches, not whole epochs
    rows = dataset_rows(dataset, config=cfg)
    tokens = round(tokens / rows * min(rows, cfg.max_steps * cfg.batch_size * cfg.grad_accum))
options = dict(hardware=hardware, dataset_tokens=tokens, hourly_price=hourly_price)
estimates = compare_techniques(["full", "lora", "qlora"], config=cfg, **options)
chosen = estimate(cfg, **options)
fig = memory_figure(estimates)
write_figures_html({"memory": fig}, rd.memory_figure_html, title="Memory by component")
fig.show()
TechniqueChoice(train_config=cfg, estimate=chosen, advice=advice).save(rd.root)  # 03 can start now
chosen

# %% [markdown]
# The panel below tries other models, techniques and shapes. It changes nothing until you press
# **Use for notebook 03**, which saves the panel's configuration as the run's choice.

# %%
if interactive:
    from workbench.ui.estimate import EstimatePanel

    panel = EstimatePanel(config=cfg, hardware=hardware)
    panel.update()
    display(panel.widget)

# %% [markdown]
# ## 4 · Check the estimate on this machine
#
# The probe loads the model exactly as training will, runs a few real optimizer steps on batches of
# the chosen shape in a fresh process, and measures the peak memory (resident memory on a CPU,
# `torch.cuda.max_memory_allocated` on a GPU) and the time per step. The estimate for the full run
# is then corrected by the measured/estimated ratios. (It measures *this* machine: when the chosen
# hardware is a GPU you do not have, or when the estimate says the run does not fit here, the
# probe is skipped with a note: it would only run out of memory. It is off by default because it
# takes minutes on a CPU: set `run_probe = True`.)

# %%
import torch

result = None
here = hardware == "this-cpu" or torch.cuda.is_available()
if not run_probe:
    display(Markdown("Probe skipped (`run_probe = False`): set it to True to measure this machine."))
elif not here:
    display(Markdown(f"No probe: `{hardware}` is not this machine."))
elif not chosen.fits:
    display(Markdown(f"No probe: the estimate puts the run at {chosen.peak_bytes / 1e9:.1f} GB, more than "
                     f"{chosen.memory_bytes / 1e9:.1f} GB here. Lower batch_size or max_length, or tick "
                     "gradient checkpointing / cpu_low_memory, and run this cell again."))
else:
    step_s = cfg.batch_size * cfg.max_length / max(chosen.tokens_per_s, 1e-9)
    display(Markdown(f"Probing: loading `{cfg.model}` in a fresh process, then {probe_steps} real steps "
                     f"(about {step_s:.0f} s each by the estimate)..."))
    try:
        result = probe(cfg, steps=probe_steps)
    except KeyboardInterrupt:
        display(Markdown("Probe interrupted: the estimate above stays uncalibrated (the choice is saved)."))
    else:
        display(result)
        chosen = chosen.calibrated(result)
        display(chosen)

# %% [markdown]
# ## 5 · Save the choice for notebook 03

# %%
choice = TechniqueChoice(train_config=cfg, estimate=chosen, advice=advice, probe=result)
path = choice.save(rd.root)
display(Markdown(f"Wrote `{path}`: **{cfg.technique}** on `{cfg.model}`, peak "
                 f"{chosen.peak_bytes / 1e9:.2f} GB, {'fits' if chosen.fits else 'does NOT fit'} on {chosen.hardware}. "
                 "Notebook 03 trains this configuration."))
