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
# # 04 · Is the tuned model better, and what did it forget?
#
# A falling loss curve says the model fits its training data; it does not say the answers got better.
# This notebook asks the **base** model and the **tuned** model the same held-out prompts, scores every
# answer against the reference, and shows them side by side.
#
# * **Paired comparison.** Both models answer the very same prompts, so each prompt gives a
#   difference (tuned minus base). The summary shows the mean score of each side, the mean
#   difference with a 95% **bootstrap interval** (resampling prompts), and how many prompts the tuned
#   model **won, lost or tied**. An interval that straddles 0 means: not shown to be better.
# * **One copy of the weights.** For LoRA / QLoRA runs the base answers come from the same loaded
#   model with the adapter switched off; a full fine-tune loads the original model beside it.
# * **Greedy decoding** by default, so a rerun gives the same answers; answers stop at the end of the
#   assistant's turn or after `max_new_tokens`.
# * **Metrics follow the data.** JSON outputs (like `orders-json`) get the parse rate, JSON Schema
#   validity and field-level accuracy; a style sample (like `support-tone`) gets its greeting,
#   sign-off, banned-phrase and length checks; everything gets exact match and chrF (character n-gram
#   F-score: a fuzzy text similarity). Pass your own functions to `compare(metrics=...)`.
# * **Catastrophic forgetting.** Fine-tuning on a narrow task can erode general skills. The
#   *forgetting probe* asks both models broad general questions (the `general-probe` sample, or your
#   own set) and measures perplexity on their reference answers. When the tuned model drops more than
#   `forgetting_margin` on a probe metric, or its perplexity rises more than `perplexity_margin`,
#   the comparison raises a **forgetting flag**. Test on a broader set than your own task before
#   you release a model.
# * **Forgetting or churn?** The probe keeps only questions the base model answered right, so any
#   answer the tuning changes can only count as a loss there. `general-probe` also ships the
#   questions the base got wrong (its `unknown` split): the report counts the answers lost and
#   gained and scores both sets together, the change of general accuracy that was not chosen by
#   the base model's answers (gate `max_net_forgetting_drop`). The demo's options lost 15 known
#   answers and gained 22 unknown ones (README): they shuffled fragile answers, on balance.
# * **A classifier run** (`task = "classification"` in notebook 03) is judged differently: its
#   new head answers with a label, so the comparison is the tuned head against the base model
#   *prompted* to pick one label name (zero-shot and with `label_shots` examples), each label
#   scored by its likelihood so the prompt can only answer inside the label set. Accuracy and
#   macro-F1 (every class weighs the same) with 95% intervals, a confusion matrix for each, and
#   the tickets that went from wrong to right and back. The forgetting probe does not apply: the
#   head is new, it had no general skill to lose.

# %% tags=["parameters"]
run_dir = "runs/latest"          # the run notebook 03 trained
interactive = True               # papermill passes False: no widgets, same files written
eval_dataset = None              # None: the split the run held out (from train_config.yaml)
probe_dataset = "general-probe"  # broad set for the forgetting probe; None skips it
max_eval_prompts = None          # None: max_eval_rows of the held-out prompts
max_eval_rows = 16               # shared pipeline key (the quick profile's 16); None: all held-out prompts
max_probe_prompts = None         # None: the whole probe set (189 kinds-mixed questions, ~3 min); e.g. 60 for a quicker look
max_new_tokens = 160             # longest answer, in tokens (the longest orders-json answer is 154)
batch_size = 8                   # prompts generated together
forgetting_margin = 0.05         # largest acceptable drop of a probe metric (absolute, 0..1)
perplexity_margin = 0.25         # largest acceptable relative rise of probe perplexity (+25%)
tradeoff_folder = None           # runs for the trade-off view; None: the folder holding run_dir
label_shots = [0, 4]             # classifier runs: examples per prompted baseline (0: zero-shot)
constrained_decoding = True      # also decode both models against the task's JSON schema (a second
                                 # comparison, constrained_comparison.json); skipped for data without one

# %% [markdown]
# ## Load the run
#
# `load_run` reads `train_config.yaml` and `train_result.json` and loads the base model plus the
# adapter (or the base and the fully tuned model).

# %%
import logging
import warnings

from IPython.display import HTML, Markdown, display

from workbench import TrainConfig, compare_run, load_run

warnings.filterwarnings("ignore", module=r"(transformers|bitsandbytes|torch|peft)\b")  # library notices
logging.getLogger("transformers").setLevel(logging.ERROR)
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger("workbench.comparison").setLevel(logging.INFO)  # progress: one line per batch
task = TrainConfig.load(run_dir).task
pair = load_run(run_dir) if task == "generation" else None
if pair is not None:
    display(HTML(f"<b>{pair.info['technique']}</b> run of <code>{pair.info['model']}</code>; base answers from "
                 f"{'the same model, adapter switched off' if pair.shares_weights else 'a second copy of the base model'}"))
else:
    display(Markdown(f"A **{task}** run: the next cell compares its head with prompting; the "
                     "generation cells below have nothing to do."))

# %% [markdown]
# ## A classifier: the tuned head against the prompted base model
#
# Only for a `classification` run. Writes `classification.json` and `classification.html` into the
# run directory. The lead box says whether the head beats the *best* prompted baseline by more
# than chance: its interval is a paired bootstrap over the same held-out tickets.

# %%
classification = None
if task == "classification":
    from workbench import compare_classifier

    display(Markdown(f"Scoring the tuned head and the prompted base model (shots {label_shots}) on the held-out rows..."))
    classification = compare_classifier(run_dir, few_shot_k=label_shots,
                                        max_eval_rows=max_eval_prompts or max_eval_rows)
    print("\n".join(classification.summary_lines()))
    display(classification)

# %% [markdown]
# ## Ask both models and score the answers
#
# This writes `comparison.json` (every prompt, answer and score), `comparison.html` (the table below
# as a page you can sort and filter in any browser) and `figures/comparison.html` into the run
# directory. On two CPU cores expect a few seconds per prompt and model; a line below reports each
# batch of `batch_size` prompts. **Interrupt** (the stop button) keeps the prompts answered so far
# and skips the forgetting probe.

# %%
comparison = None
if pair is not None:
    display(Markdown(f"Asking the base and the tuned model every held-out prompt, {batch_size} at a time..."))
    try:
        comparison = compare_run(
            run_dir, pair=pair, eval_dataset=eval_dataset, probe_dataset=probe_dataset,
            max_eval_prompts=max_eval_prompts or max_eval_rows, max_probe_prompts=max_probe_prompts,
            max_new_tokens=max_new_tokens, batch_size=batch_size,
            forgetting_margin=forgetting_margin, perplexity_margin=perplexity_margin,
        )
    except KeyboardInterrupt:
        display(Markdown("Interrupted before the first batch was answered: nothing to compare yet."))
if comparison is not None:
    if comparison.seconds.get("interrupted_after"):
        display(Markdown(f"**Interrupted**: the results below cover the first {len(comparison.rows)} prompts."))
    print("\n".join(comparison.summary_lines()))
    display(comparison)

# %% [markdown]
# ## The same prompts, decoded against the schema
#
# With `constrained_decoding`, both models answer again, but at each step only tokens that keep
# the answer valid for the task's JSON schema are allowed (lm-format-enforcer): no field left out,
# none added, every pattern kept (an SKU's `ABC-123`). Schema-valid is then near 100% by
# construction, so read the **field accuracy**: it says what each model read right when a
# deployment enforces the schema. If the *base* model comes close to the tuned one here, the
# schema, not fine-tuning, did most of the work. Written to `constrained_comparison.json` beside
# the free comparison; there is no forgetting probe (free text either way).

# %%
constrained = None
if pair is not None and constrained_decoding and comparison is not None:
    from workbench import ConfigError

    display(Markdown("Asking both models again, decoded against the schema..."))
    try:
        constrained = compare_run(
            run_dir, pair=pair, eval_dataset=eval_dataset, probe_dataset=None,
            max_eval_prompts=max_eval_prompts or max_eval_rows, max_new_tokens=max_new_tokens,
            batch_size=batch_size, constrain=True,
        )
    except ConfigError as e:  # no JSON schema for this data: nothing to decode against
        display(Markdown(f"Skipped: {e}"))
if constrained is not None:
    print("\n".join(constrained.summary_lines()))
    display(constrained)

# %% [markdown]
# ## The differences at a glance
#
# Bars are tuned minus base per metric, with their 95% intervals; the dotted line is the forgetting
# margin. A task metric far above 0 with a probe metric near 0 is the result you want.

# %%
from workbench import comparison_figures

for figure in comparison_figures(comparison).values() if comparison is not None else []:
    display(figure)

# %% [markdown]
# ## Task score against forgetting, across runs
#
# One point per compared run of the same dataset in the folder beside this run (`tradeoff_folder`):
# up is a better task score, left is less forgotten on the probe; the dotted line is the
# forgetting margin. Train variants in notebook 03 (`kl_to_base`, `replay` + `replay_share`, a
# lower `lora_r`, fewer `max_steps`), compare each here, and pick the point that buys the task
# score you need for the least forgetting. Hover a point for the settings that made it.

# %%
from workbench import runs_tradeoff, tradeoff_figure

points = runs_tradeoff(run_dir, folder=tradeoff_folder) if comparison is not None else []
if len(points) > 1:
    display(tradeoff_figure(points))
else:
    display(Markdown(f"{len(points)} compared run(s) of this dataset so far: train and compare "
                     "another variant into the same folder to see the trade-off."))

# %% [markdown]
# ## Explore, and try your own prompt
#
# Filter to the prompts where the tuned model did better or worse on a metric, sort by the
# difference, search the text; then type a prompt of your own and read both answers side by side
# (differences marked).

# %%
if interactive and comparison is not None and comparison.rows:
    from workbench.ui.compare import ComparisonView

    first = comparison.rows[0].prompt
    system = first[0]["content"] if first and first[0]["role"] == "system" else ""
    display(ComparisonView(comparison, pair=pair, system_prompt=system).widget)

# %% [markdown]
# ## Next
#
# * Notebook 05 writes the model card and the AI Act / GDPR record; it quotes these results.
# * Headless: `workbench compare RUN_DIR` does the same and prints the summary;
#   `--fail-on-forgetting` makes it exit 1 when the flag is raised.
