"""Schema-constrained decoding: at each step, only tokens that keep the answer valid JSON for a schema.

A serving-time lever beside fine-tuning: the model still chooses every value, but it cannot leave
out a required field, add one the schema forbids, break a pattern (an SKU's `^[A-Z]{3}-[0-9]{3}$`)
or stop before the object closes. lm-format-enforcer does the work (JSON schema -> character
parser -> the tokens whose text the parser accepts); this module only adapts a Hugging Face
tokenizer to it, because the library's own transformers integration imports a module that
transformers 5 no longer has.

What it cannot do: read the order better. A wrong quantity stays wrong, and a value the model
would have written in another shape is forced into the nearest allowed one. So the comparison
reports what the constrained answers score, and a careful user compares that with free decoding
(`workbench compare RUN` with and without `--constrain`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)


def schema_prefix_fn(tokenizer: Any, schema: Mapping[str, Any], stop_ids: list[int]) -> Any:
    """A `prefix_allowed_tokens_fn` for `model.generate` that keeps every answer valid for `schema`.

    One enforcer per call of `generate`: it keeps a state per token sequence it has seen, so a
    batch of prompts (left-padded, each its own prefix) shares it; `stop_ids` end the answer once
    the JSON object is complete.
    """
    try:
        from lmformatenforcer import CharacterLevelParserConfig, JsonSchemaParser, TokenEnforcer
        from lmformatenforcer.exceptions import LMFormatEnforcerException
    except ImportError as e:  # a declared dependency: only a broken install gets here
        raise ConfigError(
            "Constrained decoding needs lm-format-enforcer: pip install lm-format-enforcer"
        ) from e
    try:
        parser = JsonSchemaParser(dict(schema))
    except Exception as e:  # the library's own exception types, for schemas it cannot follow
        raise ConfigError(f"Cannot decode against this JSON schema: {e}") from e
    enforcer = TokenEnforcer(_tokenizer_data(tokenizer, tuple(stop_ids)), parser)
    # The enforcer gives the parser a fresh config (its alphabet: the tokenizer's characters), so
    # ours goes on after it: fields in the schema's `required` order (the order a sample's answers
    # were trained in: a model is not asked where to put a field it skipped), and at most one
    # whitespace in a row (answers are compact JSON; the default 12 let a model pad instead of
    # writing the next field)
    parser.config = CharacterLevelParserConfig(
        alphabet=parser.config.alphabet, force_json_field_order=True, max_consecutive_whitespaces=1
    )

    def allowed(_batch_id: int, tokens: Any) -> list[int]:
        try:
            return enforcer.get_allowed_tokens(tokens.tolist()).allowed_tokens
        except LMFormatEnforcerException as e:  # a rule it meets only when it gets there
            raise ConfigError(
                f"Cannot decode against this JSON schema: {e}. Simplify that rule of the schema "
                "or compare without constrained decoding."
            ) from e

    return allowed


@functools.lru_cache(maxsize=4)
def _tokenizer_data(tokenizer: Any, stop_ids: tuple[int, ...]) -> Any:
    """Every regular token's text, as the enforcer's prefix tree needs it (built once per tokenizer).

    A token's text is decoded after a "0" so a word-initial token keeps its leading space (the
    library's own recipe); special tokens are left out, so none can appear inside the JSON.
    """
    from lmformatenforcer import TokenEnforcerTokenizerData

    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    special = set(tokenizer.all_special_ids)
    size = len(tokenizer)
    regular = []
    for tid in range(size):
        if tid in special:
            continue
        after_zero = tokenizer.decode([zero, tid])[1:]
        alone = tokenizer.decode([tid])
        regular.append((tid, after_zero, len(after_zero) > len(alone)))
    log.debug("constrained decoding: %d regular tokens of %d", len(regular), size)

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids).rstrip("\N{REPLACEMENT CHARACTER}")  # a split multibyte char

    return TokenEnforcerTokenizerData(regular, decode, list(stop_ids), False, size)
