"""Per-output quality metrics: pure functions of (output, reference) that return a score in [0, 1] or None.

None means "does not apply" (for example field accuracy when the reference is not JSON) and is
left out of averages. Every metric is cheap, deterministic and needs no model:

- `exact_match`: the whole answer, whitespace-normalised.
- `contains_reference`: the reference appears in the answer (case-insensitive); how the
  general-knowledge probe is scored.
- `json_parses`, `schema_valid`, `field_accuracy`: for structured output such as `orders-json`.
- `chrf`: character n-gram F-score, a fuzzy "how close is the text" that needs no tokenizer.
- `style_metrics(style)`: greeting, sign-off, banned phrases and length checks built from a
  `style.json` such as the `support-tone` sample's.

`MetricFn` is the shape a user-supplied metric takes: `fn(output, reference) -> float | None`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigError

MetricFn = Callable[[str, str], "float | None"]

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)
_MISSING = object()


def normalise(text: str) -> str:
    """NFC Unicode form, whitespace runs collapsed, ends stripped (case kept)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


# -- text -----------------------------------------------------------------------------------------


def exact_match(output: str, reference: str) -> float:
    """1.0 when output and reference are the same text after `normalise`, else 0.0."""
    return float(normalise(output) == normalise(reference))


_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()


def contains_reference(output: str, reference: str) -> float | None:
    """1.0 when the reference occurs in the output, ignoring case and whitespace runs. A small
    number counts in digits or in words ("three" is answered by "3", "12" by "twelve"), as a
    whole word: "The answer is 3." answers "How many sides does a triangle have?", and a
    compound such as "thirty-three" does not answer "3"."""
    ref = normalise(reference).casefold()
    if not ref:
        return None
    out = normalise(output).casefold()
    if ref in out:
        return 1.0
    alias = _number_alias(ref)
    if alias is None:
        return 0.0
    # whole words, and not part of a compound number ("thirty-three" is not 3)
    return float(re.search(rf"(?<![\w-]){alias}(?![\w-])", out) is not None)


def _number_alias(ref: str) -> str | None:
    """The other spelling of a number 0-20 ("three" <-> "3"); None for anything else."""
    if ref in _NUMBER_WORDS:
        return str(_NUMBER_WORDS.index(ref))
    # ASCII digits only: "²".isdigit() is True and int("²") fails
    if re.fullmatch(r"[0-9]+", ref) and int(ref) < len(_NUMBER_WORDS) and ref == str(int(ref)):
        return _NUMBER_WORDS[int(ref)]
    return None


def chrf(output: str, reference: str, *, max_n: int = 6, beta: float = 2.0) -> float:
    """Character n-gram F-score (Popovic 2015, chrF with beta=2 as in sacrebleu), in [0, 1].

    Whitespace is removed, n-grams of 1..max_n characters are counted; precision and recall are
    averaged over the orders that the reference (or output) is long enough to have. Written here
    rather than taken from sacrebleu to keep the dependency list short; it gives sacrebleu 2.6's
    sentence chrF (default settings, divided by 100) to six decimals (see tests/test_metrics.py).
    """
    hyp = "".join(unicodedata.normalize("NFC", output or "").split())
    ref = "".join(unicodedata.normalize("NFC", reference or "").split())
    if not hyp and not ref:
        return 1.0
    if not hyp or not ref:
        return 0.0
    precisions, recalls = [], []
    for n in range(1, max_n + 1):
        h, r = _char_ngrams(hyp, n), _char_ngrams(ref, n)
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precisions.append(overlap / sum(h.values()))
        recalls.append(overlap / sum(r.values()))
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p == 0.0 and r == 0.0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r)


def _char_ngrams(text: str, n: int) -> Counter:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


# -- structured output ----------------------------------------------------------------------------


def parse_json(text: str) -> Any:
    """The JSON value the output holds; raises ValueError when it holds none.

    Accepts the bare value or one Markdown code fence around it (```json ... ```); anything else
    around the JSON (an introduction, a trailing remark) counts as not parseable, because a
    program reading the answer would fail on it too.
    """
    body = (text or "").strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    return json.loads(body)


def json_parses(output: str, reference: str = "") -> float:
    """1.0 when the output is one JSON value (optionally in a code fence), else 0.0."""
    return float(_try_json(output) is not _MISSING)


def schema_valid(output: str, reference: str = "", *, schema: Mapping[str, Any]) -> float:
    """1.0 when the output parses and validates against the JSON Schema `schema`."""
    import jsonschema

    value = _try_json(output)
    if value is _MISSING:
        return 0.0
    validator_cls = jsonschema.validators.validator_for(schema)
    return float(validator_cls(schema).is_valid(value))


def schema_errors(output: str, *, schema: Mapping[str, Any]) -> list[str]:
    """Why `output` fails `schema`, one label per distinct failure: the JSON path with list indices
    folded to [] and the rule broken ("items[].sku: pattern", "items[].unit_price: required",
    "not JSON"); [] when it validates. Counted over answers, the labels say which field to fix."""
    import jsonschema

    value = _try_json(output)
    if value is _MISSING:
        return ["not JSON"]
    validator = jsonschema.validators.validator_for(schema)(schema)
    labels = []
    for error in validator.iter_errors(value):
        if error.validator == "required":  # the missing keys belong in the path, not the message
            instance = error.instance if isinstance(error.instance, dict) else {}
            paths = [[*error.absolute_path, k] for k in error.validator_value if k not in instance]
        else:
            paths = [list(error.absolute_path)]
        for path in paths:
            label = f"{_folded_path(path) or '(top level)'}: {error.validator}"
            if label not in labels:
                labels.append(label)
    return labels


def _folded_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += "[]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_accuracy(output: str, reference: str) -> float | None:
    """Share of the reference JSON's leaf fields that the output has with an equal value.

    Fields are addressed by path (`items.0.sku`), so a nested value counts once per leaf. Numbers
    compare by value (2 == 2.0). None when the reference is not JSON; 0.0 when the output is not.
    """
    ref = _try_json(reference)
    if ref is _MISSING:
        return None
    leaves = dict(_leaves(ref))
    if not leaves:
        return None
    out = _try_json(output)
    if out is _MISSING:
        return 0.0
    got = dict(_leaves(out))
    hits = sum(1 for path, value in leaves.items() if _same_value(got.get(path, _MISSING), value))
    return hits / len(leaves)


def field_misses(output: str, reference: str) -> list[str]:
    """Which fields of the reference JSON `output` gets wrong, one label per distinct miss, list
    indices folded to []: "items[].sku: wrong", "customer.vat_id: missing", "items: 1 element
    fewer" (the answer's list is shorter; the lost elements' fields are not listed again), "not
    JSON"; [] when the reference is not JSON. The per-field view of `field_accuracy`, counted
    over answers it says which field a run still gets wrong, with one label more: a list longer
    than the reference's ("items: 1 element more", an invented item), which field_accuracy does
    not count (it scores the reference's fields only)."""
    ref = _try_json(reference)
    if ref is _MISSING:
        return []
    out = _try_json(output)
    if out is _MISSING:
        return ["not JSON"]
    labels: list[str] = []
    _misses(ref, out, [], labels)
    return labels


def _misses(ref: Any, out: Any, path: list, labels: list[str]) -> None:
    def add(label: str) -> None:
        if label not in labels:
            labels.append(label)

    where = _folded_path(path) or "(top level)"
    if isinstance(ref, dict) and ref:
        for key, item in ref.items():
            if isinstance(out, dict) and key in out:
                _misses(item, out[key], [*path, key], labels)
            else:
                for leaf, _ in _leaf_items(item, [*path, key]):
                    add(f"{_folded_path(leaf)}: missing")
    elif isinstance(ref, list) and ref:
        got = out if isinstance(out, list) else []
        if len(got) != len(ref):
            gap = len(ref) - len(got)
            fewer = "fewer" if gap > 0 else "more"
            add(f"{where}: {abs(gap)} element{'s' if abs(gap) != 1 else ''} {fewer}")
        for i, item in enumerate(ref[: len(got)]):
            _misses(item, got[i], [*path, i], labels)
    elif not _same_value(out, ref):
        add(f"{where}: wrong")


def _try_json(text: str) -> Any:
    try:
        return parse_json(text)
    except ValueError:
        return _MISSING


def _leaves(value: Any):
    """(path, leaf) for every leaf of `value`, the path dotted ("items.0.sku"; "$": the value itself)."""
    for parts, leaf in _leaf_items(value, []):
        yield ".".join(map(str, parts)) or "$", leaf


def _leaf_items(value: Any, path: list):
    """(path parts, leaf) for every leaf under `value`: keys and list indices, an empty container a leaf."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaf_items(item, [*path, key])
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaf_items(item, [*path, i])
    else:
        yield path, value


def _same_value(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return type(a) is type(b) and a == b


# -- style ----------------------------------------------------------------------------------------


def starts_with(output: str, phrase: str) -> float:
    """1.0 when the output opens with `phrase` (case-insensitive, whitespace-normalised)."""
    return float(normalise(output).casefold().startswith(normalise(phrase).casefold()))


def ends_with(output: str, phrase: str) -> float:
    """1.0 when the output closes with `phrase` (case-insensitive, whitespace-normalised)."""
    return float(normalise(output).casefold().endswith(normalise(phrase).casefold()))


def avoids_phrases(output: str, phrases: list[str]) -> float:
    """1.0 when none of `phrases` occurs in the output (case-insensitive)."""
    text = normalise(output).casefold()
    return float(not any(normalise(p).casefold() in text for p in phrases))


def within_words(output: str, *, max_words: int, min_words: int = 1) -> float:
    """1.0 when the output has between min_words and max_words words."""
    return float(min_words <= len(normalise(output).split()) <= max_words)


def style_metrics(style: Mapping[str, Any]) -> dict[str, MetricFn]:
    """Metric functions for the checkable markers in a style spec (keys as in support-tone's style.json).

    Known keys: `greeting` (opening text), `sign_off` (closing text), `banned_phrases` (list),
    `max_words` and `min_words`. Unknown keys are ignored.
    """
    checks: dict[str, MetricFn] = {}
    if style.get("greeting"):
        checks["greeting"] = lambda out, ref, g=style["greeting"]: starts_with(out, g)
    if style.get("sign_off"):
        checks["sign_off"] = lambda out, ref, s=style["sign_off"]: ends_with(out, s)
    if style.get("banned_phrases"):
        checks["no_banned_phrases"] = lambda out, ref, b=list(style["banned_phrases"]): (
            avoids_phrases(out, b)
        )
    if style.get("max_words"):
        lo, hi = int(style.get("min_words", 1)), int(style["max_words"])
        checks["length_ok"] = lambda out, ref, lo=lo, hi=hi: within_words(
            out, max_words=hi, min_words=lo
        )
    return checks


def json_metrics(schema: Mapping[str, Any] | None = None) -> dict[str, MetricFn]:
    """The structured-output suite: parse rate, schema validity (when a schema is given), field accuracy."""
    metrics: dict[str, MetricFn] = {"json_parses": json_parses}
    if schema is not None:
        metrics["schema_valid"] = lambda out, ref, s=schema: schema_valid(out, ref, schema=s)
    metrics["field_accuracy"] = field_accuracy
    return metrics


# The metric that decides between runs and arms, first present wins: validity against the task's
# schema says more than a parse rate every tuned model reaches; chrF for free text.
PRIMARY_METRICS = ("schema_valid", "json_parses", "chrf")


def primary_metric(names: Iterable[str]) -> str | None:
    """The deciding metric among `names` (PRIMARY_METRICS first, else the first given); None if empty."""
    names = list(names)
    return next((m for m in PRIMARY_METRICS if m in names), names[0] if names else None)


def looks_like_json(references: list[str], *, share: float = 0.8) -> bool:
    """True when at least `share` of the non-empty references parse as JSON objects or arrays."""
    refs = [r for r in references if r and r.strip()]
    if not refs:
        return False
    hits = sum(isinstance(_try_json(r), (dict, list)) for r in refs)
    return hits / len(refs) >= share


def score(metrics: Mapping[str, MetricFn], output: str, reference: str) -> dict[str, float | None]:
    """Apply each metric; a result outside [0, 1] is an error in the metric, reported by name."""
    scores: dict[str, float | None] = {}
    for name, fn in metrics.items():
        value = fn(output, reference)
        if value is not None:
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"Metric {name!r} returned {value!r}; a metric must return a float in [0, 1] or None."
                )
        scores[name] = value
    return scores
