"""Isochronous word streams for frequency tagging (Ding et al. 2016; HFTP, An et al. 2025).

Four-word sentences ``[Adj N][V N]`` are presented one word every
``1 / rate`` seconds with no pause between sentences, so with ``rate=4`` the
words recur at 4 Hz, the two-word phrases at 2 Hz and the sentences at 1 Hz.
A response that follows the phrase or sentence structure shows a spectral peak
at that rate; the control stream shuffles the words *within* each sentence
(same words, same sentence boundaries, no phrase structure), so a peak that
survives the shuffle is lexical, not syntactic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Timeline

__all__ = ["IsochronousStreams", "isochronous_streams", "load_isochronous_corpus"]


def load_isochronous_corpus(path: str | Path | None = None, *, n_words: int = 4) -> list[tuple[str, ...]]:
    """Sentences of ``n_words`` words, one per line (``#`` lines are comments).

    Parameters
    ----------
    path : str or Path, optional
        A text file; default: the corpus shipped with brainalign (68
        ``[Adj N][V N]`` sentences written for this project, CC0).
    n_words : int
        Words every sentence must have.

    Examples
    --------
    >>> sentences = load_isochronous_corpus()
    >>> len(sentences) >= 60, sentences[0]
    (True, ('old', 'farmers', 'sell', 'cakes'))
    """
    if path is None:
        text = resources.files("brainalign").joinpath("data/isochronous_corpus.txt").read_text(encoding="utf-8")
        where = "the bundled isochronous corpus"
    else:
        path = Path(path)
        if not path.is_file():
            raise BrainalignInputError(f"Isochronous corpus {path} does not exist; pass a text file, one sentence a line.")
        text, where = path.read_text(encoding="utf-8"), str(path)
    sentences = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = tuple(line.split())
        if len(words) != n_words:
            raise BrainalignInputError(
                f"{where}, line {number}: {line!r} has {len(words)} words but every sentence needs {n_words}."
            )
        sentences.append(words)
    if not sentences:
        raise BrainalignInputError(f"{where} holds no sentence.")
    return sentences


@dataclass(eq=False)
class IsochronousStreams:
    """Paired experiment and control streams, one run (``stream-01``, ...) per stream.

    Attributes
    ----------
    experiment, control : Timeline
        Same sentences in the same order per run; the control shuffles the words
        inside every sentence (never the identity order).
    word_rate : float
        Words per second.
    levels : dict of str to int
        Words per unit of each tagged level (``{"sentence": 4, "phrase": 2}``);
        :attr:`rates` gives their frequencies.
    sentence_order : ndarray of int, shape (n_streams, sentences_per_stream)
        Corpus index of every presented sentence.
    """

    experiment: Timeline
    control: Timeline
    word_rate: float
    levels: dict[str, int]
    sentence_order: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def rates(self) -> dict[str, float]:
        """Tagged frequency (Hz) of every level, e.g. ``{"sentence": 1.0, "phrase": 2.0}``."""
        return {level: self.word_rate / n for level, n in self.levels.items()}

    @property
    def n_streams(self) -> int:
        return int(self.sentence_order.shape[0])

    @property
    def words_per_stream(self) -> int:
        return int(self.experiment.n_events // self.n_streams)


def _non_identity_permutation(rng: np.random.Generator, n: int) -> np.ndarray:
    while True:  # n >= 2, so this ends quickly (identity has probability 1/n!)
        order = rng.permutation(n)
        if np.any(order != np.arange(n)):
            return order


def isochronous_streams(
    sentences: Sequence[Sequence[str]] | None = None,
    *,
    n_streams: int = 4,
    sentences_per_stream: int | None = None,
    word_rate: float = 4.0,
    levels: dict[str, int] | None = None,
    seed: int = 0,
) -> IsochronousStreams:
    """Build shuffled isochronous streams and their within-sentence-shuffled controls.

    Parameters
    ----------
    sentences : sequence of sequences of str, optional
        Equal-length sentences; default :func:`load_isochronous_corpus`.
    n_streams : int
        Independent streams (runs); each presents the sentences in a new random
        order (no sentence twice within a stream).
    sentences_per_stream : int, optional
        Default: every sentence once.
    word_rate : float
        Words per second (one word every ``1 / word_rate`` s, back to back).
    levels : dict of str to int, optional
        Words per unit of each level; default ``{"sentence": n, "phrase": n // 2}``
        for ``n``-word sentences (``{"sentence": n}`` when ``n`` is odd).  Every
        value must divide ``n``.
    seed : int

    Returns
    -------
    IsochronousStreams

    Examples
    --------
    >>> streams = isochronous_streams(n_streams=2, sentences_per_stream=10)
    >>> streams.rates, streams.experiment.n_events, streams.experiment.run_ids
    ({'sentence': 1.0, 'phrase': 2.0}, 80, ['stream-01', 'stream-02'])
    """
    sentences = [tuple(str(w) for w in s) for s in (load_isochronous_corpus() if sentences is None else sentences)]
    if not sentences:
        raise BrainalignInputError("isochronous_streams needs at least one sentence.")
    n = len(sentences[0])
    bad = [i for i, s in enumerate(sentences) if len(s) != n]
    if bad:
        raise BrainalignInputError(
            f"Sentence {bad[0]} ({' '.join(sentences[bad[0]])!r}) has {len(sentences[bad[0]])} words but the first has "
            f"{n}; every sentence of a stream needs the same length."
        )
    if n < 2:
        raise BrainalignInputError("Sentences need at least 2 words for a within-sentence-shuffled control.")
    if not np.isfinite(word_rate) or word_rate <= 0:
        raise BrainalignInputError(f"word_rate must be a positive number of words per second, got {word_rate!r}.")
    if int(n_streams) < 1:
        raise BrainalignInputError(f"n_streams must be >= 1, got {n_streams!r}.")
    per = len(sentences) if sentences_per_stream is None else int(sentences_per_stream)
    if not 1 <= per <= len(sentences):
        raise BrainalignInputError(
            f"sentences_per_stream must be between 1 and the {len(sentences)} sentences given, got {sentences_per_stream!r}."
        )
    levels = dict(levels) if levels is not None else ({"sentence": n, "phrase": n // 2} if n % 2 == 0 else {"sentence": n})
    for level, size in levels.items():
        if not isinstance(size, (int, np.integer)) or size < 1 or n % size:
            raise BrainalignInputError(f"levels[{level!r}] = {size!r} must be a positive divisor of the {n} words per sentence.")
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(len(sentences))[:per] for _ in range(int(n_streams))])
    exp_words, ctrl_words, runs = [], [], []
    for s, order in enumerate(orders):
        for index in order:
            words = sentences[index]
            exp_words.extend(words)
            ctrl_words.extend(words[j] for j in _non_identity_permutation(rng, n))
        runs.extend([f"stream-{s + 1:02d}"] * (per * n))
    step = 1.0 / float(word_rate)
    onsets = np.tile(np.arange(per * n) * step, int(n_streams))
    experiment = Timeline(exp_words, onsets, onsets + step, runs)
    control = Timeline(ctrl_words, onsets, onsets + step, runs)
    params = {"n_streams": int(n_streams), "sentences_per_stream": per, "word_rate": float(word_rate),
              "levels": {k: int(v) for k, v in levels.items()}, "seed": int(seed), "n_sentences": len(sentences)}
    return IsochronousStreams(experiment, control, float(word_rate), {k: int(v) for k, v in levels.items()}, orders, params)
