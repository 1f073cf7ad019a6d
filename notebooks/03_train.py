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
# # 03 · Train
#
# Press **Train**, watch the loss fall, press **Stop** whenever you like: nothing is lost.
#
# What happens underneath: every conversation is rendered with the model's own chat template, and
# the loss is computed only on the assistant's replies (*instruction tuning*: the model learns to
# answer, not to repeat questions). The optimizer nudges the trainable weights (the small LoRA
# matrices, or all weights for full fine-tuning) a little after each batch.
#
# How to read the plot:
# * **train loss** (pale, with a smoothed line) should fall quickly at first, then flatten;
# * **eval loss** is measured on conversations the model never trains on. If it rises while the
#   train loss keeps falling, the model is memorising (*overfitting*): stop, or train fewer steps;
# * **learning rate** (dotted, right axis) warms up, then decays. A loss that jumps up or turns NaN
#   usually means the learning rate is too high; the run stops itself with status *diverged* and
#   keeps the last good checkpoint.
#
# Checkpoints are written atomically (a half-written one is never used) and a rerun of this notebook
# with the same settings resumes from the newest one: same optimizer, schedule, random state and data
# position, so the curve continues where it stopped.

# %% tags=["parameters"]
run_dir = "runs/latest"      # notebook 02 wrote technique.json here; artifacts go here
interactive = True           # papermill passes False: train in the foreground, same artifacts
use_technique_json = True    # start from notebook 02's choice when run_dir/technique.json exists
                             # (without one: the README's quick profile, 20 steps of orders-json)
clean_copy = False           # True: train on notebook 01's cleaned copy (run_dir/inspect/train.clean.jsonl)
# Any TrainConfig field can be set here; None keeps notebook 02's value (or the default).
model = None                 # e.g. "smollm2-135m-instruct", "tiny-random", a local folder
technique = None             # lora | qlora | dora | full | freeze
dataset = None               # a sample name ("orders-json") or a file
split = None                 # "by_template": hold out whole templates, so eval measures generalisation;
                             # "by_field": hold out whole groups of the column `split_field`
split_field = None           # e.g. "customer": every row of a held-out customer is in eval, none in training
max_length = None
max_train_rows = None        # e.g. 160: train on the first rows only (a quick look)
max_eval_rows = None         # e.g. 16: evaluate on the first held-out rows only
max_steps = None             # > 0 overrides epochs
epochs = None
batch_size = None
learning_rate = None         # a number, or "find": an LR range test chooses it before training
lora_r = None
packing = None
eval_every = None
sample_prompts = 2           # answer the first 2 eval prompts greedily at each evaluation (shown under
                             # the plot, saved in samples.jsonl); 0: off, as each costs generation time
save_every = None
log_every = None
save_merged = None
cpu_low_memory = None        # True: lower peak RAM on a CPU, slower steps (README, "cpu_low_memory")
kl_to_base = None            # e.g. 0.1: hold the answers near the base model's (adapter techniques)
kl_on = None                 # "all" answer tokens (default), or "replay": the replay rows' only
replay = None                # e.g. "general-replay": general conversations mixed into training
replay_share = None          # e.g. 0.2: the share of training rows drawn from `replay` (0 to 0.9)
objective = None             # "sft" (examples), or "dpo": pairs of a better and a worse answer
beta = None                  # dpo: how far the tuned model may move from its reference (0.1)
init_adapter = None          # dpo: start from this SFT run's adapter (its run dir); None: the base
task = None                  # "generation" (chat answers) or "classification" (a label per text)
labels = None                # classification: the label set, e.g. "refund,login"; None: from the data
text_field = None            # classification: the text column; None: text, sentence, content, ...
label_field = None           # classification: the label column; None: label, intent, category, ...

# %% [markdown]
# ## Two ways to forget less
#
# Fine-tuning on one narrow task can wear away general skills (notebook 04's forgetting probe
# measures it). Two settings push back; both are measured, not assumed, so compare runs with and
# without them in notebook 04's trade-off view (task score against forgetting).
#
# * **`kl_to_base`** (beta) adds beta x KL(tuned || base) to the loss on the answer tokens: a
#   penalty for moving the next-token distribution away from the base model's. The base is the
#   same model with its LoRA adapter switched off, so no second copy sits in memory, but every
#   step runs one extra forward pass without gradients: 1.25x the step time on
#   this machine (21.3 -> 26.7 s per step, batch 8 x 384, 2 CPU cores;
#   `benchmarks/forgetting_options.py`). Full fine-tuning and freeze have no adapter to switch
#   off and refuse it. The KL per token shows as its own line on the plot; the eval loss stays
#   the task's alone. Too large a beta keeps the model from learning the task at all.
#   **`kl_on = "replay"`** counts it on the replay rows only (below), which then train on the KL
#   alone, and the task rows on their own loss: the task is not pulled back, and general answers
#   are held to the base's whole distribution rather than copied from its one greedy answer
#   (training on those copies alone forgot 13 probe points in 20 steps, measured). The base
#   forward then runs on the replay rows of a batch only. The demo uses it at beta 1.0.
# * **`replay`** + **`replay_share`** mix general conversations into the training rows (never
#   into the eval split). The shipped `general-replay` holds the base model's own answers to 188
#   general prompts, so replaying them rehearses what it could already do. The cost is data, not
#   memory: at `replay_share = 0.2` a quarter more rows per epoch (or, with a fixed `max_steps`, a
#   fifth fewer task rows per step); steps measured 0.85x as
#   long here, because the general rows are shorter than the orders.
#
# Lower `lora_r` and fewer steps also forget less; the run comparison (notebook 06) finds where.

# %% [markdown]
# ## Preference tuning: pairs instead of examples
#
# `objective = "dpo"` trains on pairs: a prompt, the answer you want (*chosen*) and one you do not
# (*rejected*), e.g. the shipped `support-tone-pairs` (an on-brand reply against a curt one, a
# banned phrase, a missing sign-off). DPO (through TRL's `DPOTrainer`) raises the likelihood of the
# chosen answer relative to the rejected one, measured against a *reference*: the same model with
# its adapter switched off, so no second copy sits in memory. Pairs teach what examples cannot
# say: "this, not that". The usual order is SFT first (examples of the task), then DPO from that
# run's adapter (`init_adapter = "runs/sft"`), which then also serves as the reference.
#
# The plot then also shows the **reward margin** (how much more the model prefers the chosen
# answer than the reference does, in log-probability; it starts at 0 and should rise) and the
# **preference accuracy** (the share of pairs where the chosen answer wins; 0.5 is a coin). The
# DPO loss starts at ln 2 = 0.69. A margin that keeps climbing while the eval margin falls is
# overfitting, as with a loss. Each step runs chosen and rejected through the model plus a
# reference pass: about 3x an SFT step on the same rows.

# %% [markdown]
# ## A classifier instead of a chat model
#
# `task = "classification"` trains a sequence-classification head (transformers'
# `AutoModelForSequenceClassification`: a new linear layer reading the last token's hidden state)
# on the same backbone, for data with one text and one label per row (the shipped
# `support-intent`: support tickets in 8 intents; or your CSV / JSONL / Parquet). `full`, `lora`,
# `qlora` and `freeze` all train the new head; LoRA saves it beside the adapter. The eval loss is
# then cross-entropy over the labels, and every eval also reports accuracy and macro-F1. Options
# that shape generated answers (`packing`, `kl_to_base`, `replay`, preference objectives) are
# refused. Notebook 04 compares the head with the base model prompted to pick a label.

# %% [markdown]
# ## The configuration
#
# One flat `TrainConfig`. It is saved as `train_config.yaml` in the run directory, and the same
# file trains from the command line: `workbench train runs/latest/train_config.yaml`.

# %%
import logging
import warnings
from pathlib import Path

from IPython.display import Markdown, display

from workbench import RunDir, TrainConfig, list_samples, notebook_config, sample_path, train

warnings.filterwarnings("ignore", module=r"(transformers|bitsandbytes|torch|peft)\b")  # library notices
logging.getLogger("transformers").setLevel(logging.ERROR)
rd = RunDir(run_dir)
QUICK = dict(dataset="orders-json", max_length=384, max_steps=20, batch_size=8, learning_rate=1e-3,
             max_train_rows=160, max_eval_rows=16, log_every=5)  # examples/demo.yaml `quick`
chosen = use_technique_json and rd.technique_json.is_file()
given = {k: v for k, v in globals().items() if v is not None}
cfg = notebook_config({**({} if chosen else QUICK), **given}, use_technique_json=use_technique_json)
if clean_copy:
    if not rd.clean_copy.is_file():
        raise FileNotFoundError(f"{rd.clean_copy}: no cleaned copy yet. Save one in notebook 01 "
                                "(`save_clean = True`, or its Save button), or set clean_copy = False.")
    held_out = cfg.eval_dataset or (str(sample_path(cfg.dataset, "eval")) if cfg.dataset in list_samples() else None)
    cfg = cfg.replace(dataset=str(rd.clean_copy), eval_dataset=held_out)
elif rd.clean_copy.is_file():
    display(Markdown(f"Notebook 01 saved a cleaned copy, `{rd.clean_copy}`: set `clean_copy = True` to train on it."))
display(Markdown(f"**The run**: `{cfg.technique}` on `{cfg.model}`, data `{cfg.dataset}` "
                 f"({'notebook 02' if chosen else 'the quick profile: notebook 02 did not run'})."))
display(Markdown(f"```yaml\n{cfg.to_yaml()}```"))

# %% [markdown]
# ## Which learning rate?
#
# The learning rate decides most small fine-tunes: too low and 20 steps teach nothing, too high and
# the loss jumps or turns NaN. **Find LR** (or `learning_rate = "find"`, which also works headless
# and in `workbench train`) runs an *LR range test* before training: one optimizer step per rate,
# the rate growing tenfold every few steps on a few real batches of your data, with your technique.
# The loss curve has two landmarks: where it falls fastest, and its minimum, past which the rate
# is too high. Between them a few rates each train a few steps from the same start and are scored
# on held-out rows; the best becomes the suggestion. The weights are put back afterwards. The plot
# shows the curve and the short runs (diamonds); the text says what was chosen and why. Measured on
# orders-json with the default model: the suggestion lands within a factor of 3 of the best rate
# of a small grid (README, "LR range test").

# %% [markdown]
# ## Train
#
# Interactive: the panel trains in a background thread, so **Stop** works while it runs (it saves a
# checkpoint first; **Train** again resumes). Interrupting the kernel also stops cleanly with a
# checkpoint. Headless (papermill), the same `workbench.training.engine` call runs in the foreground.
#
# Before the first step the run measures the eval loss of the untrained model (`eval_at_start`):
# that is the point the eval curve falls from, and the progress line says so while it runs. The
# first train-loss point appears after `log_every` steps. After the last step (or Stop) the eval
# loss is measured once more; the ETA counts training steps only.
#
# Under the plot, **sample answers**: after each evaluation the model answers the first
# `sample_prompts` eval prompts greedily, and the latest answer is shown with the words that changed
# since the one before marked. A falling loss can hide a model that learned to stop too early or
# never to stop; the answers show it. They are saved in `samples.jsonl` (and the tracker) and cost
# one short generation per evaluation, never a training step's time.

# %%
result = None
if interactive:
    from workbench.ui.train_panel import TrainPanel

    panel = TrainPanel(cfg)
    display(panel)
else:
    from workbench.ui.live import LiveLossPlot, ProgressLine
    from workbench.ui.samples import SampleAnswersView

    progress = ProgressLine(eval_first=cfg.eval_at_start, samples=bool(cfg.sample_prompts))
    plot = LiveLossPlot()
    views = [progress, plot] + ([SampleAnswersView()] if cfg.sample_prompts else [])
    for view in views:
        view.show()
    result = train(cfg, callbacks=views)
    plot.close()  # the live figure becomes the final static one

# %% [markdown]
# ## Results
#
# Run this cell when training has finished. `train_result.json` records the status, losses, tokens
# seen, wall time and an estimate of the training compute (FLOPs: about 6 x parameters per token for
# full fine-tuning, about 4 x for LoRA, whose frozen weights need no gradient).

# %%
from workbench import LRFinderResult, loss_figure

if interactive:
    result = panel.result
if result is None:
    display(Markdown("Training is still running (or has not started): run this cell again when it has finished."))
else:
    display(result)
    if RunDir(run_dir).lr_find_json.is_file():  # learning_rate "find": the range test it trained after
        found = LRFinderResult.load(run_dir)
        display(Markdown(f"**Learning rate found**: {found.suggestion:.2e}. {found.reason}"), found.figure())
    if interactive:
        display(loss_figure(result.history, title=f"Training loss ({result.status})"))
    saved = [Path(p) for p in (result.adapter_dir, result.merged_dir) if p]
    lines = [f"- `{f}` ({f.stat().st_size / 1e6:.2f} MB)" for d in saved for f in sorted(d.iterdir()) if f.is_file()]
    display(Markdown("**Saved artifacts**\n\n" + "\n".join(lines + [f"- `{RunDir(run_dir).loss_figure_html}`"])))

# %% [markdown]
# ## Outgrowing this machine
#
# The same run can be exported as a plain script with accelerate configs (DDP, FSDP, DeepSpeed
# ZeRO) and started on a multi-GPU machine with `accelerate launch`. The panel's **Export script**
# button does the same; so does `workbench export-script RUN_DIR`.

# %%
from workbench import export_script

if TrainConfig.load_optional(run_dir) is not None:
    display(export_script(run_dir))
else:  # Run All before Train: nothing to export yet
    display(Markdown("Nothing to export yet: train first, then run this cell again."))

# %% [markdown]
# ## Next
#
# Notebook 04 compares the base model with the tuned one on the eval set, checks the task metric
# (e.g. JSON validity for `orders-json`) and probes for forgetting.
