"""Minimal pairs (grammatical vs ungrammatical sentences) and held-out text for deficits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import BrainalignInputError
from ._stimuli import _ADJECTIVES, _PREPOSITIONS, generate_sentences

__all__ = ["MinimalPair", "builtin_heldout_texts", "builtin_minimal_pairs", "load_blimp_jsonl"]


@dataclass(frozen=True)
class MinimalPair:
    """A grammatical sentence and its minimally different ungrammatical twin."""

    good: str
    bad: str
    phenomenon: str = ""

    def __post_init__(self) -> None:
        for name in ("good", "bad"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise BrainalignInputError(f"Minimal pair {name!r} sentence must be a non-empty string, got {value!r}.")


def load_blimp_jsonl(path: str | Path, *, limit: int | None = None) -> list[MinimalPair]:
    """Read minimal pairs in the BLiMP JSONL format.

    One JSON object per line with at least ``sentence_good`` and
    ``sentence_bad``; the phenomenon label is taken from ``UID`` (else
    ``linguistics_term``, else the file stem).  Blank lines are skipped.

    Examples
    --------
    >>> pairs = load_blimp_jsonl("anaphor_gender_agreement.jsonl")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"BLiMP file {path} does not exist.")
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise BrainalignInputError(f"{path}:{lineno} is not valid JSON ({err.msg}).") from None
            missing = [k for k in ("sentence_good", "sentence_bad") if k not in record]
            if missing:
                raise BrainalignInputError(
                    f"{path}:{lineno} lacks {missing}; BLiMP lines need 'sentence_good' and 'sentence_bad'."
                )
            label = record.get("UID") or record.get("linguistics_term") or path.stem
            pairs.append(MinimalPair(record["sentence_good"], record["sentence_bad"], str(label)))
            if limit is not None and len(pairs) >= limit:
                break
    if not pairs:
        raise BrainalignInputError(f"BLiMP file {path} holds no minimal pairs.")
    return pairs


_SINGULAR = "dog cat man woman child teacher doctor farmer king baker".split()
_PLURAL = "dogs cats men women children teachers doctors farmers kings bakers".split()
_OBJECTS_SG = "house garden river window table door letter book road boat".split()
_OBJECTS_PL = "houses gardens rivers windows tables doors letters books roads boats".split()
_VERBS = [("walks", "walk"), ("sleeps", "sleep"), ("waits", "wait"), ("works", "work"), ("smiles", "smile")]


def builtin_minimal_pairs(n_per_phenomenon: int = 20, seed: int = 0) -> list[MinimalPair]:
    """The project's own generated minimal pairs (offline tests and tutorials).

    Three phenomena: subject-verb agreement across a prepositional phrase,
    determiner-noun number agreement (``this``/``these``), and reflexive
    number agreement (``himself``/``themselves``).

    Examples
    --------
    >>> pairs = builtin_minimal_pairs(2)
    >>> len(pairs), pairs[0].phenomenon
    (6, 'subject_verb_agreement')
    """
    if n_per_phenomenon < 1:
        raise BrainalignInputError(f"n_per_phenomenon must be >= 1, got {n_per_phenomenon}.")
    rng = np.random.default_rng(seed)
    pairs = []
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    for _ in range(n_per_phenomenon):
        i = int(rng.integers(len(_SINGULAR)))
        sg_verb, pl_verb = pick(_VERBS)
        obj = pick(_OBJECTS_PL)
        prep = pick(_PREPOSITIONS)
        if rng.random() < 0.5:
            good = f"the {_SINGULAR[i]} {prep} the {obj} {sg_verb} every day"
            bad = f"the {_SINGULAR[i]} {prep} the {obj} {pl_verb} every day"
        else:
            good = f"the {_PLURAL[i]} {prep} the {obj} {pl_verb} every day"
            bad = f"the {_PLURAL[i]} {prep} the {obj} {sg_verb} every day"
        pairs.append(MinimalPair(good, bad, "subject_verb_agreement"))
    for _ in range(n_per_phenomenon):
        j = int(rng.integers(len(_OBJECTS_SG)))
        adj = pick(_ADJECTIVES)
        subj = pick(_PLURAL)
        if rng.random() < 0.5:
            good = f"the {subj} bought this {adj} {_OBJECTS_SG[j]}"
            bad = f"the {subj} bought these {adj} {_OBJECTS_SG[j]}"
        else:
            good = f"the {subj} bought these {adj} {_OBJECTS_PL[j]}"
            bad = f"the {subj} bought this {adj} {_OBJECTS_PL[j]}"
        pairs.append(MinimalPair(good, bad, "determiner_noun_agreement"))
    for _ in range(n_per_phenomenon):
        i = int(rng.integers(len(_SINGULAR)))
        if rng.random() < 0.5:
            subj = ["man", "king", "farmer", "baker"][int(rng.integers(4))]
            good, bad = f"the {subj} saw himself in the mirror", f"the {subj} saw themselves in the mirror"
        else:
            good = f"the {_PLURAL[i]} saw themselves in the mirror"
            bad = f"the {_PLURAL[i]} saw himself in the mirror"
        pairs.append(MinimalPair(good, bad, "reflexive_number_agreement"))
    return pairs


def builtin_heldout_texts(n: int = 50, seed: int = 12345) -> list[str]:
    """Generated sentences for next-token loss (seed differs from the localizer default)."""
    return generate_sentences(n, seed)
