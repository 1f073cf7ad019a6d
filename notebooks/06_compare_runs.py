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
# # 06 · Many runs side by side
#
# Exploratory tuning is many runs, not one: a few learning rates, two LoRA ranks, a cleaned and an
# uncleaned dataset. This notebook lays finished runs next to each other, straight from their run
# directories (no tracker needed; every run also logs to MLflow, see `workbench mlflow`).
#
# * **Loss curves overlaid** by optimizer step, by tokens seen (fair when batch sizes or packing
#   differ) and by wall time (what the runs cost you).
# * **What changed**: only the config fields that differ between the runs.
# * **Which run is better, and is it really?** Each run's comparison metrics (notebook 04) with 95%
#   intervals. Runs compared on the same prompts are *paired*: the best run's score minus another
#   run's, prompt by prompt, with a bootstrap interval. An interval that includes 0 means the two
#   runs are not shown to differ; pick the cheaper one.
# * **Forgetting per run**: a higher learning rate often buys task score with general skills.
#
# `workbench sweep params.yaml --grid learning_rate=1e-4,3e-4,1e-3` trains such a set of runs
# (clear losers are stopped early by Optuna's pruner) and ends in this same view.

# %% tags=["parameters"]
run_dir = "runs/compare"   # where this notebook writes runs_comparison.html
interactive = True         # papermill passes False: no widgets, same files written
runs_folder = "runs"       # compare every finished run in this folder ...
run_dirs = None            # ... or exactly these run directories (a list)
metric = None              # None: schema_valid, else json_parses, else chrf (else lowest eval loss)

# %% [markdown]
# ## Read the runs
#
# Each run is read through its typed files: `train_config.yaml`, `train_result.json` (the loss
# history) and, when notebook 04 ran, `comparison.json`.

# %%
from IPython.display import HTML, display

from workbench import RunDir, compare_runs, find_runs, write_runs_page

chosen = list(run_dirs) if run_dirs else find_runs(runs_folder)
runs = compare_runs(chosen, metric=metric)
print("\n".join(runs.summary_lines()))

# %% [markdown]
# ## Loss curves
#
# Solid lines are the training loss, dotted lines with markers the eval loss on held-out rows. A
# run whose eval loss turns up while its training loss keeps falling has started to memorise.

# %%
figures = runs.figures()
for figure in figures.values():
    display(figure)

# %% [markdown]
# ## Configs, metrics, significance, forgetting
#
# The links open each run's own comparison page (every prompt, both answers, the scores).

# %%
page = write_runs_page(runs, RunDir(run_dir).runs_comparison_html)
display(runs)
display(HTML(f"Saved as <code>{page}</code> (a self-contained page: tables and curves)."))

# %% [markdown]
# ## Pick an axis
#
# The same curves against the axis you choose.

# %%
if interactive:
    from workbench.ui.runs import RunsView

    display(RunsView(runs).widget)

# %% [markdown]
# ## Next
#
# * Train the best run again with more data or steps (notebook 03), or document it (notebook 05).
