"""Exact and near duplicates inside a dataset, and train/eval leakage, with MinHash LSH (datasketch).

Two conversations are compared on their user and assistant text (system prompts are left out:
many datasets share one system prompt, which would make every row look alike):
- exact: the same messages, character for character;
- near: Jaccard similarity of word 3-gram sets (after lower-casing, dropping punctuation and
  collapsing whitespace) at or above `threshold`. MinHash LSH proposes candidate pairs in about
  linear time; each candidate is then confirmed with the true Jaccard of the two sets, so the
  LSH approximation can miss a borderline pair but never reports a false one.
Near copies whose words differ only in numbers or IDs (a ticket number, an order id, a price)
are template siblings, not duplicates: they are clustered apart and `clean` keeps them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUM_PERM = 64  # with LSH at threshold - 0.2: ~98% recall at Jaccard 0.7, ~100% at 0.8
SEED = 1
SHINGLE = 3  # words per shingle
DEFAULT_THRESHOLD = 0.7
_PUNCT = re.compile(r"[^\w\s]+")


@dataclass
class DuplicateCluster:
    """Positions (0-based, dataset order) of conversations that are copies of each other."""

    members: list[int]  # sorted; the first is kept by `clean`, the others are the duplicates
    exact: bool
    similarity: float  # lowest confirmed Jaccard to the first member (1.0 for exact)
    siblings: bool = False  # template siblings: they differ only in numbers/IDs, not duplicates


@dataclass
class Leak:
    """A training conversation that also appears, exactly or nearly, in the eval split."""

    train: int  # position in the training set
    eval: int  # position in the eval set
    exact: bool
    similarity: float


def content_key(conversation: list[dict]) -> str:
    """Identity of a conversation for exact matching: its non-system messages, verbatim."""
    turns = [[m["role"], m["content"]] for m in conversation if m["role"] != "system"]
    return hashlib.blake2b(
        json.dumps(turns, ensure_ascii=False).encode(), digest_size=16
    ).hexdigest()


def words(conversation: list[dict]) -> list[str]:
    """The normalised words of the user/assistant text."""
    text = " ".join(m["content"] for m in conversation if m["role"] != "system")
    return _PUNCT.sub(" ", text.lower()).split()


def template_key(conversation: list[dict]) -> list[str]:
    """The user/assistant words as `words` gives them, with every number or ID as "#".

    A number or ID is a whitespace token that is all digits once punctuation is dropped
    ("48213:", "12.50", "10:30") or holds three or more digits ("MS-90211", "INV2024001");
    "mp3" or "w12" stay words.
    """
    text = " ".join(m["content"] for m in conversation if m["role"] != "system")
    out: list[str] = []
    for token in text.lower().split():
        core = _PUNCT.sub("", token)
        digits = sum(ch.isdigit() for ch in core)
        if digits >= 3 or (digits and core.isdigit()):
            out.append("#")
        else:
            out += _PUNCT.sub(" ", token).split()
    return out


class _Vocab(dict):
    """word -> id from 1 on; a missing word gets the next id (the lookup runs in C: `map`)."""

    def __missing__(self, word: str) -> int:
        self[word] = value = len(self) + 1
        return value


@dataclass
class Signatures:
    """Everything duplicate and leak detection needs about a list of conversations, computed once."""

    keys: list[str]  # exact-match keys
    shingles: list[np.ndarray]  # sorted unique word 3-gram ids per conversation (exact, no hashing)
    matrix: np.ndarray  # (n, num_perm) MinHash signatures; rows of empty conversations unused
    vocab: _Vocab = field(repr=False, default_factory=_Vocab)  # word -> id, shared with eval

    def minhash(self, i: int):
        from datasketch import LeanMinHash

        return LeanMinHash(seed=SEED, hashvalues=self.matrix[i], scheme="legacy")


def signatures(
    conversations: list[list[dict]], *, num_perm: int = NUM_PERM, vocab: _Vocab | None = None
) -> Signatures:
    """Keys, shingle sets and MinHash signatures. Pass one `vocab` to compare two lists (train/eval)."""
    vocab = _Vocab() if vocab is None else vocab
    shingle_sets = [_shingle_ids(list(map(vocab.__getitem__, words(c)))) for c in conversations]
    return Signatures(
        keys=[content_key(c) for c in conversations],
        shingles=shingle_sets,
        matrix=_minhash_matrix(shingle_sets, num_perm),
        vocab=vocab,
    )


def _shingle_ids(ids: list[int]) -> np.ndarray:
    """Word 3-grams as integers: three 21-bit word ids packed into one (injective below 2M words)."""
    if not ids:
        return np.empty(0, dtype=np.uint64)
    a = np.asarray(
        [0] * max(0, SHINGLE - len(ids)) + ids, dtype=np.uint64
    )  # short text: one shingle
    if int(a.max()) >= 1 << 21:  # a huge vocabulary: fall back to hashing the ids modulo 2**21
        a = a % np.uint64((1 << 21) - 1) + np.uint64(1)
    packed = (a[:-2] << np.uint64(42)) | (a[1:-1] << np.uint64(21)) | a[2:]
    return np.unique(packed)


def _minhash_matrix(sets: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures of all sets at once: h_p(x) = (a_p * mix(x) + b_p) >> 32, min over x."""
    rng = np.random.default_rng(SEED)
    a = rng.integers(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
    out = np.full((len(sets), num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    chunk: list[int] = []
    size = 0
    for i, s in enumerate(sets):
        if s.size:
            chunk.append(i)
            size += s.size
        if chunk and (size > 50_000 or i == len(sets) - 1):  # ~50k x num_perm temporaries per chunk
            _fill(out, chunk, sets, a, b)
            chunk, size = [], 0
    return out


def _fill(
    out: np.ndarray, rows: list[int], sets: list[np.ndarray], a: np.ndarray, b: np.ndarray
) -> None:
    values = np.concatenate([sets[i] for i in rows])
    starts = np.cumsum([0] + [sets[i].size for i in rows[:-1]])
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        x = values * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(29)
        hashed = (x[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
    out[rows] = np.minimum.reduceat(hashed, starts, axis=0)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique id arrays."""
    if not a.size and not b.size:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


@dataclass
class Index:
    """A dataset's signatures, its exact-copy groups and an LSH index over one row per group.

    Built once by `build_index` and shared by `find_duplicates` and `find_leaks`.
    """

    sigs: Signatures
    groups: dict[int, list[int]]  # representative (first row) -> all rows with the same content
    lsh: Any  # datasketch.MinHashLSH over the representatives
    threshold: float


def build_index(
    conversations: list[list[dict]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    num_perm: int = NUM_PERM,
) -> Index:
    from datasketch import MinHashLSH

    sigs = signatures(conversations, num_perm=num_perm)
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(sigs.keys):
        by_key.setdefault(key, []).append(i)
    groups = {rows[0]: rows for rows in by_key.values()}
    # LSH at a lower threshold: more candidates, every one confirmed exactly afterwards
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.2), num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i in groups:
            if sigs.shingles[i].size:
                session.insert(i, sigs.minhash(i), check_duplication=False)
    return Index(sigs, groups, lsh, threshold)


def find_duplicates(
    conversations: list[list[dict]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    index: Index | None = None,
) -> list[DuplicateCluster]:
    """Clusters of exact copies, then of near copies and of template siblings among the exact
    groups' first rows (a row can be in a near cluster and a sibling cluster)."""
    index = index or build_index(conversations, threshold=threshold)
    shingles = index.sigs.shingles
    clusters = [
        DuplicateCluster(rows, True, 1.0) for rows in index.groups.values() if len(rows) > 1
    ]
    near, sib = _Links(index.groups), _Links(index.groups)
    is_sibling = _sibling_test(conversations)
    for i, j in _candidate_pairs(index.lsh):
        if (sim := jaccard(shingles[i], shingles[j])) >= threshold:
            (sib if is_sibling(i, j) else near).add(i, j, sim)
    clusters += near.clusters(siblings=False) + sib.clusters(siblings=True)
    return sorted(clusters, key=lambda c: (c.members[0], c.siblings))


class _Links:
    """Confirmed pairs joined into clusters (union-find), with the lowest similarity per row."""

    def __init__(self, rows):
        self.parent = {i: i for i in rows}
        self.lowest: dict[int, float] = {}

    def add(self, i: int, j: int, sim: float) -> None:
        _union(self.parent, i, j)
        self.lowest[j] = min(self.lowest.get(j, 1.0), sim)

    def clusters(self, *, siblings: bool) -> list[DuplicateCluster]:
        groups: dict[int, list[int]] = {}
        for i in sorted(self.parent):
            groups.setdefault(_find(self.parent, i), []).append(i)
        return [
            DuplicateCluster(
                members,
                False,
                round(min(self.lowest.get(m, 1.0) for m in members[1:]), 3),
                siblings,
            )
            for members in groups.values()
            if len(members) > 1
        ]


def _sibling_test(conversations: list[list[dict]]):
    """is_sibling(i, j): rows i and j differ only in numbers/IDs (same template, other words)."""

    @functools.cache
    def key(i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(template_key(conversations[i])), tuple(words(conversations[i]))

    def is_sibling(i: int, j: int) -> bool:
        (template_i, words_i), (template_j, words_j) = key(i), key(j)
        return template_i == template_j and words_i != words_j

    return is_sibling


BIG_BUCKET = 64  # beyond this many keys in one bucket, compare along a chain, not all pairs


def _candidate_pairs(lsh) -> set[tuple[int, int]]:
    """(i, j), i < j, for keys sharing an LSH bucket in some band (no per-key queries needed)."""
    pairs: set[tuple[int, int]] = set()
    for table in lsh.hashtables:
        for bucket in table.keys():
            members = table.get(bucket)
            if len(members) < 2:
                continue
            ordered = sorted(members)
            if len(ordered) > BIG_BUCKET:  # linear, so one huge bucket cannot go quadratic
                pairs.update(zip(ordered, ordered[1:], strict=False))
                pairs.update((ordered[0], b) for b in ordered[1:])
            else:
                pairs.update((a, b) for k, a in enumerate(ordered) for b in ordered[k + 1 :])
    return pairs


def find_leaks(
    train: list[list[dict]],
    eval_: list[list[dict]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    index: Index | None = None,
) -> list[Leak]:
    """Training conversations that match an eval conversation exactly or nearly.

    Queries the training set's index with each eval row (the eval split is usually the small one).
    """
    index = index or build_index(train, threshold=threshold)
    sigs = index.sigs
    eval_sigs = signatures(eval_, num_perm=sigs.matrix.shape[1], vocab=sigs.vocab)
    best: dict[int, Leak] = {}  # representative -> its best match
    rep_of_key = {sigs.keys[i]: i for i in index.groups}
    for j, key in enumerate(eval_sigs.keys):
        if key in rep_of_key:
            i = rep_of_key[key]
            best[i] = best[i] if i in best and best[i].exact else Leak(i, j, True, 1.0)
        if not eval_sigs.shingles[j].size:
            continue
        for i in index.lsh.query(eval_sigs.minhash(j)):  # other training rows may be near copies
            sim = jaccard(sigs.shingles[i], eval_sigs.shingles[j])
            if sim >= threshold and (
                i not in best or (not best[i].exact and sim > best[i].similarity)
            ):
                best[i] = Leak(i, j, False, round(sim, 3))
    leaks = [
        Leak(row, leak.eval, leak.exact, leak.similarity)
        for rep, leak in best.items()
        for row in index.groups[rep]
    ]
    return sorted(leaks, key=lambda leak: leak.train)


def _find(parent: dict[int, int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: dict[int, int], i: int, j: int) -> None:
    a, b = _find(parent, i), _find(parent, j)
    if a != b:
        parent[max(a, b)] = min(a, b)
