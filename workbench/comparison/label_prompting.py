"""The prompt-only baseline of a classifier: the base chat model asked for one label, scored by likelihood.

Free generation would let the model answer "It sounds like a billing problem!", which matches no
label; instead every label name is scored as the assistant's whole answer and the likeliest one
wins, so the answer is always one of the labels. Scores are the summed log-probability of a
label's tokens after the prompt. The prompt is computed once per text and its cache is copied
for every label (one short forward for all labels instead of one full forward each).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Conversation = list[dict[str, str]]


def instruction(label_names: Sequence[str]) -> str:
    return (
        "Classify the message into exactly one of these labels: "
        + ", ".join(label_names)
        + ". Answer with the label only."
    )


def label_prompt(
    text: str, label_names: Sequence[str], shots: Sequence[tuple[str, str]] = ()
) -> Conversation:
    """System instruction, the shots (text, label; given best first) as earlier exchanges placed
    best last, nearest the text (the order small models follow best), then the text."""
    turns: Conversation = [{"role": "system", "content": instruction(label_names)}]
    for shot_text, shot_label in reversed(shots):
        turns += [
            {"role": "user", "content": shot_text},
            {"role": "assistant", "content": shot_label},
        ]
    return [*turns, {"role": "user", "content": text}]


def label_log_likelihoods(
    model: Any, tokenizer: Any, prompts: Sequence[Conversation], label_names: Sequence[str]
) -> list[list[float]]:
    """scores[i][c]: log p(label c as the whole answer | prompt i), summed over the label's tokens."""
    import torch

    labels = [tokenizer(name, add_special_tokens=False)["input_ids"] for name in label_names]
    width = max(len(ids) for ids in labels)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    label_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in labels])
    valid = torch.tensor([[j < len(ids) for j in range(width)] for ids in labels])
    device = next(model.parameters()).device
    label_ids, valid = label_ids.to(device), valid.to(device)
    out = []
    model.eval()
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer.apply_chat_template(
                prompt, add_generation_prompt=True, tokenize=True, return_dict=False
            )
            # only the last position's logits: the prompt's own would be prompt x vocabulary
            first = model(torch.tensor([ids], device=device), use_cache=True, logits_to_keep=1)
            cache = first["cache"] if "cache" in first else first["past_key_values"]
            cache.batch_repeat_interleave(len(labels))
            # right padding needs no mask: a padded position comes after every real one
            rest = model(label_ids, cache=cache).logits
            logits = torch.cat([first.logits[:, -1:].expand(len(labels), -1, -1), rest[:, :-1]], 1)
            logp = torch.log_softmax(logits.float(), dim=-1)
            picked = logp.gather(-1, label_ids.unsqueeze(-1)).squeeze(-1)
            out.append((picked * valid).sum(dim=1).tolist())
    return out


def nearest_shots(
    texts: Sequence[str], pool_texts: Sequence[str], pool_labels: Sequence[str], k: int
) -> list[list[tuple[str, str]]]:
    """For each text, the k training rows most like it (BM25), most similar first."""
    from ..estimation.prompting import Retriever

    if k <= 0:
        return [[] for _ in texts]
    retriever = Retriever(list(pool_texts))
    return [[(pool_texts[i], pool_labels[i]) for i in retriever.top(text, k)] for text in texts]
