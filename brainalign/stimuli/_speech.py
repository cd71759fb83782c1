"""Plausible speech timing for a text, for simulated participants and demos."""

from __future__ import annotations

import re

import numpy as np

from ..core import BrainalignInputError, Timeline
from ..core.validation import positive_or_zero, positive_seconds

_VOWEL_GROUPS = re.compile(r"[aeiouy]+", re.IGNORECASE)


def _syllables(word: str) -> int:
    letters = re.sub(r"[^A-Za-z]", "", word)
    if not letters:
        return 1
    count = len(_VOWEL_GROUPS.findall(letters))
    if letters.lower().endswith("e") and count > 1 and not letters.lower().endswith(("le", "ee")):
        count -= 1  # silent final e
    return max(count, 1)


def synthetic_speech_timeline(
    text: str,
    *,
    run: str = "run-1",
    start: float = 2.0,
    seconds_per_syllable: float = 0.18,
    comma_pause: float = 0.25,
    sentence_pause: float = 0.55,
    paragraph_pause: float = 1.0,
    jitter: float = 0.15,
    seed: int = 0,
) -> Timeline:
    """Word onsets and offsets of ``text`` read aloud at a natural pace.

    Word durations grow with the number of syllables (about 5.5 syllables/s),
    with log-normal jitter; pauses follow commas, sentence ends and blank-line
    paragraph breaks.  The default pace is ~2.5 words/s (~150 words/min),
    typical of audiobook narration used in story-listening fMRI.

    Parameters
    ----------
    text : str
        Running text; paragraphs are separated by blank lines.  Tokens keep
        their punctuation (``"rock,"``) so language models see it.
    run : str
        Run label of every word.
    start : float
        Onset of the first word (s), e.g. the silence before the story.
    seconds_per_syllable, comma_pause, sentence_pause, paragraph_pause : float
        Timing parameters in seconds.
    jitter : float
        Standard deviation of the log-normal factor applied to each duration.
    seed : int
        Seed of the jitter, so the timeline is reproducible.

    Returns
    -------
    Timeline

    Examples
    --------
    >>> tl = synthetic_speech_timeline("Once upon a time, there was a cat.")
    >>> tl.n_events, round(float(tl.onsets[0]), 1)
    (8, 2.0)
    """
    if not isinstance(text, str):
        raise BrainalignInputError(f"text must be a str of running text, got {type(text).__name__}.")
    seconds_per_syllable = positive_seconds(seconds_per_syllable, "seconds_per_syllable", "the time per syllable")
    for label, value in (("start", start), ("comma_pause", comma_pause), ("sentence_pause", sentence_pause),
                         ("paragraph_pause", paragraph_pause), ("jitter", jitter)):
        positive_or_zero(value, label, unit="" if label == "jitter" else "seconds")
    paragraphs = [p.split() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if not paragraphs:
        raise BrainalignInputError("Cannot build a speech timeline from empty text.")
    rng = np.random.default_rng(seed)
    tokens, onsets, offsets = [], [], []
    t = float(start)
    for words in paragraphs:
        for i, word in enumerate(words):
            duration = (0.06 + seconds_per_syllable * _syllables(word)) * np.exp(rng.normal(0.0, jitter))
            tokens.append(word)
            onsets.append(t)
            offsets.append(t + duration)
            t += duration
            if word.endswith((".", "!", "?")):
                gap = sentence_pause
            elif word.endswith((",", ";", ":")):
                gap = comma_pause
            else:
                gap = 0.03
            if i == len(words) - 1:
                gap = max(gap, paragraph_pause)
            t += gap * np.exp(rng.normal(0.0, jitter))
    return Timeline(tokens, onsets, offsets, run)
