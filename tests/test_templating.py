"""The assistant-only loss mask: checked against transformers' own {% generation %} masks."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import DataError
from workbench.models import CHATML_TEMPLATE
from workbench.templating import assistant_mask, count_tokens, encode_chat, render_chat

# ChatML with {% generation %} markers around what our rule trains on: content + <|im_end|>.
CHATML_GENERATION = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nDEFAULT_SYSTEM<|im_end|>\n' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CONVERSATIONS = [
    [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}],
    [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Where is order MS-1234?"},
        {"role": "assistant", "content": "It ships today. 📦"},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "You are welcome."},
    ],
    [{"role": "user", "content": "Say nothing"}, {"role": "assistant", "content": ""}],
    [{"role": "user", "content": '{"a": 1}'}, {"role": "assistant", "content": '{"a":1}\n  '}],
    [
        {"role": "user", "content": "echo"},
        {"role": "assistant", "content": "echo"},
        {"role": "user", "content": "echo"},
        {"role": "assistant", "content": "echo"},
    ],
]


def _tokenizer(name: str):
    from transformers import AutoTokenizer

    from workbench.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(name))


@pytest.fixture(scope="module")
def tiny_tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def smol_tok():
    return _tokenizer("smollm2-135m-instruct")


def _reference_mask(tok, messages, default_system: str) -> tuple[list[int], list[int]]:
    """transformers' own assistant mask from a template with {% generation %} markers."""
    template = CHATML_GENERATION.replace("DEFAULT_SYSTEM", default_system)
    out = tok.apply_chat_template(
        messages,
        chat_template=template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def _trained_text(tok, ids, mask) -> str:
    return tok.decode([t for t, m in zip(ids, mask, strict=True) if m])


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_tiny_mask_equals_transformers_generation_mask(tiny_tok, messages):
    ids, mask = assistant_mask(tiny_tok, messages)
    assert tiny_tok.chat_template == CHATML_TEMPLATE
    ref_ids, ref_mask = _reference_mask(tiny_tok, messages, "You are a helpful assistant.")
    assert ids == ref_ids
    assert mask == ref_mask


@pytest.mark.slow
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_smollm2_mask_equals_transformers_generation_mask(smol_tok, messages):
    ids, mask = assistant_mask(smol_tok, messages)
    default = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert default in smol_tok.chat_template  # the real template injects a default system prompt
    assert (ids, mask) == _reference_mask(smol_tok, messages, default)


def test_trained_text_is_answers_plus_end_of_turn(tiny_tok):
    messages = CONVERSATIONS[1]
    ids, mask = assistant_mask(tiny_tok, messages)
    assert (
        _trained_text(tiny_tok, ids, mask)
        == "It ships today. 📦<|im_end|>You are welcome.<|im_end|>"
    )
    assert "Be terse" not in _trained_text(tiny_tok, ids, mask)


def test_answer_equal_to_injected_system_prompt_is_masked_in_its_own_turn(tiny_tok):
    """The default system prompt holds the same words; only the assistant's copy is trained."""
    messages = [
        {"role": "user", "content": "Repeat"},
        {"role": "assistant", "content": "You are a helpful assistant."},
    ]
    enc = encode_chat(tiny_tok, messages)
    trained = [piece for piece, t in enc.segments() if t]
    assert trained == ["You are a helpful assistant.<|im_end|>"]
    first_trained = enc.labels_mask.index(1)
    assert enc.text[: enc.offsets[first_trained][0]].endswith("<|im_start|>assistant\n")


def test_template_that_trims_content_falls_back_to_search(tiny_tok):
    tok = _copy_with_template(
        tiny_tok, CHATML_TEMPLATE.replace("message['content']", "message['content'] | trim")
    )
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "  Hello there \n"},
    ]
    ids, mask = assistant_mask(tok, messages)
    assert _trained_text(tok, ids, mask) == "Hello there<|im_end|>"


def test_truncation_cuts_the_right_and_counts_lost_answer_tokens(tiny_tok):
    messages = CONVERSATIONS[1]
    full = encode_chat(tiny_tok, messages)
    cut = encode_chat(tiny_tok, messages, max_length=full.n_tokens - 5)
    assert len(cut.input_ids) == len(cut.labels_mask) == full.n_tokens - 5
    assert cut.input_ids == full.input_ids[: full.n_tokens - 5]
    assert cut.truncated and not full.truncated
    assert cut.n_trained == full.n_trained
    assert cut.n_trained_lost == sum(full.labels_mask[full.n_tokens - 5 :]) > 0


def test_bulk_counts_agree_with_single_encoding(tiny_tok):
    rng = random.Random(0)
    words = "order parcel refund the a is late 42 📦 é JSON {} ok".split()
    convs = []
    for _ in range(40):
        conv = []
        for k in range(rng.choice([2, 4])):
            conv.append(
                {
                    "role": "user" if k % 2 == 0 else "assistant",
                    "content": " ".join(rng.choices(words, k=rng.randint(0, 12))),
                }
            )
        convs.append(conv)
    for max_length in (10, 30, 1000):
        counts = count_tokens(tiny_tok, convs, max_length=max_length, batch_size=7)
        for conv, c in zip(convs, counts, strict=True):
            enc = encode_chat(tiny_tok, conv, max_length=max_length)
            assert (c.n_tokens, c.n_trained, c.n_trained_kept) == (
                enc.n_tokens,
                enc.n_trained,
                enc.n_trained_kept,
            )


def test_template_errors_are_reported_per_row(tiny_tok):
    strict = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('must start with user') }}{% endif %}"
    tok = _copy_with_template(tiny_tok, strict + CHATML_TEMPLATE)
    counts = count_tokens(
        tok, [CONVERSATIONS[0], [{"role": "assistant", "content": "x"}]], max_length=64
    )
    assert counts[0].error is None and counts[0].n_trained > 0
    assert "must start with user" in counts[1].error


def test_no_chat_template_is_an_actionable_error(tiny_tok):
    tok = _copy_with_template(tiny_tok, None)
    with pytest.raises(DataError, match="no chat template"):
        render_chat(tok, CONVERSATIONS[0])


def _copy_with_template(tok, template):
    import copy

    other = copy.deepcopy(tok)
    other.chat_template = template
    return other


def test_other_special_end_of_turn_tokens_are_trained_but_not_bos(tiny_tok):
    """Gemma/Llama-3 style: the turn closes with a special token that is not eos."""
    eot = CHATML_TEMPLATE.replace("'<|im_end|>' + '\n'", "'<|endoftext|>' + '\n'")
    assert tiny_tok.eos_token == "<|im_end|>" and eot != CHATML_TEMPLATE
    ids, mask = assistant_mask(_copy_with_template(tiny_tok, eot), CONVERSATIONS[1])
    assert (
        _trained_text(tiny_tok, ids, mask)
        == "It ships today. 📦<|endoftext|>You are welcome.<|endoftext|>"
    )
    # no end-of-turn token at all: the next turn's opening token (bos here) is not trained
    bare = CHATML_TEMPLATE.replace("'<|im_end|>' + '\n'", "'\n'")
    assert bare != CHATML_TEMPLATE
    ids, mask = assistant_mask(_copy_with_template(tiny_tok, bare), CONVERSATIONS[1])
    assert _trained_text(tiny_tok, ids, mask) == "It ships today. 📦You are welcome."


_PIECES = [
    "Hi",
    "hello there",
    " ",
    "\n",
    "You are a helpful assistant.",
    "assistant",
    "user",
    "📦",
    "é",
    '{"a": 1}',
    "  ",
    "ok",
    "OK.",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    system=st.booleans(),
    turns=st.lists(
        st.lists(st.sampled_from(_PIECES), max_size=4).map("".join), min_size=2, max_size=6
    ),
)
def test_random_conversations_match_the_reference_mask(tiny_tok, system, turns):
    """Repeated, empty and template-like contents: still exactly transformers' generation mask."""
    messages = [{"role": "system", "content": "Be brief."}] if system else []
    messages += [
        {"role": "user" if k % 2 == 0 else "assistant", "content": t} for k, t in enumerate(turns)
    ]
    assert assistant_mask(tiny_tok, messages) == _reference_mask(
        tiny_tok, messages, "You are a helpful assistant."
    )


def test_content_that_overlaps_the_header_it_follows_is_found_where_it_starts(tiny_tok):
    """An answer of "\\n\\n" after the header's own newline: "\\n\\n\\n" holds the content twice,
    overlapping; the first match (the header's newline) was trained on. Found by hypothesis."""
    messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": "\n\n"}]
    assert assistant_mask(tiny_tok, messages) == _reference_mask(
        tiny_tok, messages, "You are a helpful assistant."
    )
