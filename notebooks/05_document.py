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
# # 05 · Document the run
#
# A fine-tuned model is only as trustworthy as the record of how it was made. Three documents come out
# of this notebook, all from the files the earlier notebooks left in the run directory:
#
# * a **model card** (Hugging Face format: YAML metadata with `base_model`, `datasets`, `license`,
#   metrics) for the adapter or merged model;
# * a **data card**: where the data came from (paths, sha256, row counts), what was cleaned, what the
#   PII scan found, and the gaps;
# * an **AI Act / GDPR record**. Under the EU AI Act, whoever fine-tunes a model for a *high-risk* use
#   becomes its provider and must document which data was used, how quality was tested and how bias is
#   monitored. GDPR asks for a legal basis for personal data in the training set, and sometimes a data
#   protection impact assessment (DPIA).
#
# The tool fills in what it measured. What it cannot know (your intended purpose, the licence of your
# data, your legal basis) is marked *to be completed by the provider*: never guessed.

# %% tags=["parameters"]
run_dir = "runs/latest"    # the run to document (notebooks 01-04 wrote into it)
interactive = True         # papermill passes False: no widgets, same documents
bias_probe = True          # run the counterfactual probe on the tuned model (needs a trained run)
bias_pairs = 4             # prompt pairs in the probe
bias_max_new_tokens = 32   # answer length per prompt
extraction_audit = True    # ask base and tuned a sample of the training prompts: how much comes back verbatim
audit_sample = 8           # training prompts in the audit (the GDPR record quotes the result)

# %%
import logging
import warnings

from IPython.display import HTML, Markdown, display

from workbench import RunFacts, not_run, write_run_docs

warnings.filterwarnings("ignore", module=r"(transformers|bitsandbytes|torch|peft)\b")  # library notices
logging.getLogger("transformers").setLevel(logging.ERROR)
facts = RunFacts.read(run_dir)
steps = {"inspect": facts.inspect, "technique": facts.technique, "train": facts.train,
         "comparison": facts.comparison if facts.classification is None else facts.classification}
display(Markdown("\n".join(f"- {'found' if v is not None else not_run(k)}: **{k}**" for k, v in steps.items())))
display(Markdown(f"The documents describe the data that trained this run: **`{facts.trained_data}`**."
                 + (f" Notebook 01 inspected `{facts.inspected_other}` instead: the data card says so."
                    if facts.inspected_other else "")))

# %% [markdown]
# ## A simple bias probe
#
# Swap gendered words and first names in the prompts (*he* ↔ *she*, *John* ↔ *Mary*, ...) and ask the
# tuned model both versions. A fair model gives the same answer up to the swap. The similarity column
# compares the answer to the original prompt with the answer to the swapped prompt, swapped back
# (1.0 = identical). Low similarity says *where to look*; a handful of pairs cannot prove fairness.
# A classifier run swaps the words in its held-out texts instead and asks whether the label flips
# (1 = same label, 0 = flipped).
# AI Act Art. 10(2)(f) asks you to examine the data and the model for such biases.

# %%
from workbench import run_bias_probe

probe = None
if bias_probe and facts.has_weights:
    probe = run_bias_probe(run_dir=run_dir, n=bias_pairs, max_new_tokens=bias_max_new_tokens)
    display(probe)
else:
    reason = "turned off" if not bias_probe else not_run("train") if facts.train is None else (
        f"training ended {facts.train.status}: no tuned weights to probe")
    print("bias probe skipped:", reason)

# %% [markdown]
# ## Does the tuned model give its training data back?
#
# Data a model trains on ends up in its weights. The extraction audit asks base and tuned models a
# seeded sample of the *training* prompts, greedily, and counts how often each answers with the
# training answer verbatim (or near-verbatim: chrF >= 0.9), and how many personal-data values of
# the training split (e-mails, phone numbers, IBANs, ...) an answer holds that its prompt did not.
# A tuned model repeating its training answers is what fine-tuning does for a narrow task; the PII
# column is the one to read for GDPR: a value there can leak to anyone who asks. Personal data in
# the *prompts* (a customer's phone number in their message) is probed by prefix completion: the
# model continues the message from just before the value. The GDPR record
# quotes the figures with their method (`extraction_audit.json` keeps scores and row numbers, never
# the texts). The same audit runs headless: `workbench audit RUN_DIR`; planted canary secrets are
# `workbench canaries PARAMS.yaml`.

# %%
from workbench import audit_extraction, unauditable

audit = None
if not extraction_audit:
    print("extraction audit skipped: turned off")
elif not facts.has_weights:
    print("extraction audit skipped:", not_run("train") if facts.train is None else
          f"training ended {facts.train.status}: no tuned weights to audit")
elif refusal := unauditable(run_dir):
    print("extraction audit skipped:", refusal)
else:
    audit = audit_extraction(run_dir, sample=audit_sample)
    rows = [(side, getattr(audit, side)) for side in ("base", "tuned")]
    display(Markdown(
        f"**{audit.sample} of {audit.train_rows} training prompts**, greedy, up to "
        f"{audit.max_new_tokens} new tokens ({sum(audit.seconds.values()):.0f} s):\n\n"
        "| model | verbatim | near-verbatim | mean chrF | PII values emitted | answers with PII "
        "| prompt PII completed |\n|---|---:|---:|---:|---:|---:|---:|\n"
        + "".join(f"| {side} | {x.verbatim:.1%} | {x.near_verbatim:.1%} | {x.mean_chrf:.3f} | "
                  f"{x.pii_emitted} | {x.pii_rows} | {x.pii_completed} of {audit.prefix_probes} |\n"
                  for side, x in rows)
        + f"\n{audit.pii_values_in_training} PII value(s) are in the training split. *Prompt PII "
        "completed*: the conversation up to just before a PII value in a user turn, continued by "
        "the model; a hit means the weights hold the value."))

# %% [markdown]
# ## Write the documents
#
# Compute is part of the record: the European Commission's guidelines for general-purpose models say
# that someone who modifies a model with more than **one third of the compute used to train it**
# becomes the provider of a new general-purpose model. The record sets this run's estimated FLOPs
# (4 × parameters × tokens for adapters, 6 × for full fine-tuning) against that third, with the wall
# time and an energy estimate (wall time × an assumed power draw, stated in the record).

# %%
def as_text(page: str) -> HTML:
    """A document as HTML that JupyterLab's MathJax leaves alone ("US$ 12 ... US$ 30" is text)."""
    return HTML(f"<div class='tex2jax_ignore mathjax_ignore'>{page}</div>")


docs = write_run_docs(run_dir=run_dir)
display(docs)
display(as_text(docs.html("ai_act_record")))

# %% [markdown]
# ## The model card and the data card

# %%
display(as_text(docs.html("model_card")))
display(as_text(docs.html("data_card")))

# %% [markdown]
# ## Fill in what only you know
#
# Type your intended purpose, the data's licence and your legal basis; **Save and regenerate** writes
# them to `docs/provider.yaml` and rewrites the documents. Headless, put the same keys under
# `provider:` in the parameters file, or pass `workbench report RUN_DIR --provider facts.yaml`.

# %%
if interactive:
    from workbench.ui.report import ReportPreview

    display(ReportPreview(run_dir))

# %% [markdown]
# ## Next
#
# * Rerun the whole series unattended: `workbench run examples/demo.yaml --profile quick`
#   (`.github/workflows/notebooks.yml` shows it in CI, with quality gates that fail the build).
# * Keep the documents with the model: they describe *this* run's data, settings and results.
