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
# # 01 · Inspect the training data
#
# Fine-tuning copies what is in the examples, mistakes included, and amplifies it: an empty answer
# teaches the model to say nothing, a duplicated row counts double, a row cut off at the length limit
# teaches a half-finished answer. Personal data is worse: once trained into the weights it cannot be
# taken out again, short of training again without it.
#
# So before any training, this notebook checks the data and says **which row, which field, what is
# wrong and what to do**:
#
# | check | why it matters |
# |---|---|
# | counts, format, provenance | know what you are training on, and be able to trace it back (file hash) |
# | token lengths with the model's own chat template | rows longer than `max_length` are cut; the answer at the end is what gets lost |
# | exact and near duplicates | copies weigh some examples more than others and inflate how good the data looks |
# | empty turns, role order, final answer | broken conversations teach broken behaviour |
# | train/eval leakage | an eval row that is also in training makes the eval score lie |
# | personal data | emails, phone numbers, IBANs, card numbers, IP addresses, keys: redact or drop them |
#
# Nothing here changes your file. Cleaning writes a **new** file and a log of what changed.
#
# **One run, one choice.** The dataset, model and `max_length` set below are the run's choice:
# notebook 02 reads them from `inspect/report.json` (unless you set its own), 03 trains what 02
# chose, and 05 documents exactly the data that trained the model. The defaults are the README's
# quick profile (`examples/demo.yaml`): the `orders-json` sample on the embedded SmolLM2 model.

# %% tags=["parameters"]
run_dir = "runs/latest"               # where the report goes (inspect/, figures/)
interactive = True                    # papermill passes False: no widgets, same report
dataset = "orders-json"               # a .jsonl/.json/.csv/.parquet file, or a sample ("messy-support" has planted faults)
eval_dataset = None                   # None: the sample's eval split if any; "none": skip the leakage check
model = "smollm2-135m-instruct"       # the model you will train: its tokenizer and chat template count
max_length = 384                      # the training cutoff in tokens (orders-json rows are 181-322)
near_threshold = 0.7                  # word 3-gram Jaccard at or above which two rows are near copies
pii_severity = "error"                # personal data is an error by default (see below)
save_clean = False                    # headless: also write a cleaned copy into run_dir/inspect/

# %%
import logging
import warnings

from IPython.display import HTML, Markdown, display

from workbench import RunDir, clean, inspect_dataset, load_splits

warnings.filterwarnings("ignore", module=r"(transformers|bitsandbytes|torch)\b")  # library notices
logging.getLogger("transformers").setLevel(logging.ERROR)
rd = RunDir(run_dir).ensure()
train, eval_split = load_splits(dataset, eval_dataset)
display(train)
if eval_split is not None:
    display(eval_split)
for problem in train.problems[:10]:  # rows the loader could not read: file, line, field, hint
    print(problem)

# %% [markdown]
# ## The report
#
# Every problem is a *finding* with a row (the 1-based line in your file), a field, a kind, a
# severity and a message. The severity policy:
#
# * **error**: do not train on this row as it is: unreadable line, empty turn, wrong role order, no
#   final assistant answer, an exact copy of an eval row, and **personal data**. PII is an error by
#   default because what is trained in cannot be removed; if you have a legal basis and decide to
#   keep it, set `pii_severity = "warning"` and write that decision down (notebook 05 records it).
# * **warning**: wastes or skews training: duplicates, near copies of eval rows, truncation.
# * **info**: facts worth knowing.
#
# `workbench inspect FILE` runs the same checks from a terminal and exits 1 when there is an error
# finding, so it can guard a CI pipeline.

# %%
report = inspect_dataset(train, tokenizer_or_model=model, max_length=max_length, eval_ds=eval_split,
                         near_threshold=near_threshold, pii_severity=pii_severity)
print("\n".join(report.summary_lines()))
display(report)

# %% [markdown]
# ## What the model is trained on: the chat template and the loss mask
#
# The model never sees your JSON. Each conversation is rendered with the model's **chat template**
# (special tokens such as `<|im_start|>`, role headers, often a default system prompt the template
# adds by itself), then cut into tokens. In instruction tuning the loss is computed only on the
# **assistant's answers** plus the end-of-turn token that closes each answer, so the model learns to
# answer and to stop, not to imitate users. Green below is trained on; grey is context only.
#
# If you see no green, a missing end-of-turn token, or an answer that runs into the next turn, the
# template does not fit the data. The training step uses exactly this rule
# (`workbench.templating.assistant_mask`).

# %%
from workbench import mask_html

if report.preview and report.preview.get("segments"):
    display(HTML(mask_html([tuple(s) for s in report.preview["segments"]], truncated=report.preview["truncated"])))

# %% [markdown]
# ## Lengths, duplicates, personal data
#
# The red line is `max_length`. Everything to its right is cut during training; because the answer
# comes last, it is the answer that is lost. Raise `max_length` (memory grows with it), shorten the
# inputs, or drop the longest rows.

# %%
from workbench import inspect_figures, write_figures_html

figures = inspect_figures(report)
for fig in figures.values():
    fig.show()

# %% [markdown]
# ## Save the report
#
# `inspect/report.json` holds every number and finding (notebook 05 and the quality gates read it);
# `inspect/report.html` and `figures/inspect_data.html` open in any browser, offline.

# %%
json_path, html_path = report.save(rd.inspect_dir)
fig_path = write_figures_html(figures, rd.inspect_figures_html, title="Dataset inspection")
print(json_path, html_path, fig_path, sep="\n")

# %% [markdown]
# ## Clean a copy
#
# `clean` drops exact and near duplicates, empty turns, broken conversations and rows that leak into
# the eval split, and replaces personal data with typed placeholders (`[EMAIL]`, `[PHONE]`, `[IBAN]`,
# `[CARD]`, `[IP]`, ...). It returns a new dataset and a log; your source file is never touched.
# Truncated rows are kept unless you pass `drop_truncated=True`. To train on the cleaned copy, save
# it (`save_clean = True`, or the button below) and set `clean_copy = True` in notebook 03.

# %%
cleaned = clean(train, report=report)
display(cleaned)
if save_clean:
    cleaned.save(rd.clean_copy, overwrite=True)
    display(Markdown(f"Saved `{rd.clean_copy}`: set `clean_copy = True` in notebook 03 to train on it."))

# %% [markdown]
# ## Browse the examples
#
# Filter by finding kind, page through the rows, and see each one rendered with the template and
# its loss mask. **Save a cleaned copy** writes `inspect/train.clean.jsonl` and its log.

# %%
if interactive:
    from workbench.ui.inspect import InspectBrowser

    browser = InspectBrowser(report, clean_path=rd.clean_copy)
    display(browser)

# %% [markdown]
# ## Next
#
# Fix the errors (or let `clean` do it), then choose a technique in `02_choose_technique.ipynb`.
# To guard a pipeline: `workbench inspect data/train.jsonl --max-length 512` exits 1 on errors.
