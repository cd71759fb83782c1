"""A small, dependency-free reader for Praat TextGrid files (long and short text formats)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Timeline
from ..core.validation import as_path
from ._common import build_timeline

logger = logging.getLogger("brainalign.stimuli")

DEFAULT_SKIP_LABELS = ("sp", "sil", "", "<sil>")

# One regex for both text formats: Praat's reader keeps quoted strings, numbers
# and <flags>, and skips every other word ("xmin", "=", "item [1]:", ...).
_TOKEN = re.compile(
    r'"(?P<string>(?:[^"]|"")*)"'
    r"|(?P<flag><exists>|<absent>)"
    r"|(?<!\S)(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?!\S)"
    r'|(?P<other>[^\s"]+)'
)


@dataclass(frozen=True)
class TextGridTier:
    """One tier of a TextGrid: ``intervals`` are (xmin, xmax, text); points have xmin == xmax."""

    name: str
    kind: str  # "IntervalTier" or "TextTier"
    xmin: float
    xmax: float
    intervals: tuple[tuple[float, float, str], ...]


def _decode(raw: bytes, path: Path, encoding: str | None) -> str:
    if encoding is not None:
        return raw.decode(encoding)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig")
    # UTF-16 without a BOM shows up as every other byte being NUL.
    if len(raw) >= 4 and raw[1:2] == b"\x00" and raw[3:4] == b"\x00":
        return raw.decode("utf-16-le")
    if len(raw) >= 4 and raw[0:1] == b"\x00" and raw[2:3] == b"\x00":
        return raw.decode("utf-16-be")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BrainalignInputError(
            f"TextGrid {path} is neither UTF-8 nor UTF-16 ({exc}); pass encoding= (e.g. 'latin-1')."
        ) from None


class _Tokens:
    """Sequential reader over the values of a TextGrid text file."""

    def __init__(self, text: str, path: Path):
        self.path = path
        self.values: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind == "other":
                continue
            value = m.group(kind)
            if kind == "string":
                value = value.replace('""', '"')
            self.values.append((kind, value))
        self.pos = 0

    def _next(self, expected: str, what: str) -> str:
        if self.pos >= len(self.values):
            raise BrainalignInputError(
                f"TextGrid {self.path} ends early while reading {what} (truncated or not a TextGrid file?)."
            )
        kind, value = self.values[self.pos]
        self.pos += 1
        if kind != expected:
            raise BrainalignInputError(
                f"TextGrid {self.path}: expected a {expected} for {what}, found {value!r} "
                f"(value #{self.pos}); the file is malformed."
            )
        return value

    def number(self, what: str) -> float:
        return float(self._next("number", what))

    def integer(self, what: str) -> int:
        value = self.number(what)
        if value != int(value) or value < 0:
            raise BrainalignInputError(f"TextGrid {self.path}: {what} must be a count, got {value}.")
        return int(value)

    def string(self, what: str) -> str:
        return self._next("string", what)

    def peek_flag(self) -> str | None:
        if self.pos < len(self.values) and self.values[self.pos][0] == "flag":
            self.pos += 1
            return self.values[self.pos - 1][1]
        return None


def parse_textgrid(path: str | os.PathLike, encoding: str | None = None) -> list[TextGridTier]:
    """Read every tier of a Praat TextGrid (long or short text format, UTF-8 or UTF-16).

    Parameters
    ----------
    path : str or path-like
        A ``.TextGrid`` file written by Praat (``"ooTextFile"``) or by a
        forced aligner (MFA, Gentle, P2FA, ...).
    encoding : str or None
        Force a text encoding; by default the byte-order mark decides
        (UTF-16) and UTF-8 is assumed otherwise.

    Returns
    -------
    list of TextGridTier
    """
    path = as_path(path, "TextGrid")
    if not path.is_file():
        raise FileNotFoundError(f"TextGrid file {path} does not exist.")
    raw = path.read_bytes()
    if raw.startswith(b"ooBinaryFile"):
        raise BrainalignInputError(
            f"TextGrid {path} is in Praat's binary format; save it as a text file in Praat first."
        )
    text = _decode(raw, path, encoding)
    tokens = _Tokens(text, path)
    file_type = tokens.string("the file type")
    object_class = tokens.string("the object class")
    if file_type != "ooTextFile" or not object_class.startswith("TextGrid"):
        raise BrainalignInputError(
            f"{path} is not a Praat TextGrid (file type {file_type!r}, object class {object_class!r})."
        )
    tokens.number("the TextGrid xmin")
    tokens.number("the TextGrid xmax")
    if tokens.peek_flag() == "<absent>":
        return []
    n_tiers = tokens.integer("the number of tiers")
    tiers = []
    for t in range(n_tiers):
        kind = tokens.string(f"the class of tier {t + 1}")
        name = tokens.string(f"the name of tier {t + 1}")
        xmin = tokens.number(f"xmin of tier {name!r}")
        xmax = tokens.number(f"xmax of tier {name!r}")
        n_items = tokens.integer(f"the size of tier {name!r}")
        items = []
        for i in range(n_items):
            where = f"item {i + 1} of tier {name!r}"
            if kind == "IntervalTier":
                start = tokens.number(f"xmin of {where}")
                stop = tokens.number(f"xmax of {where}")
            elif kind == "TextTier":
                start = stop = tokens.number(f"the time of {where}")
            else:
                raise BrainalignInputError(f"TextGrid {path}: unknown tier class {kind!r} for tier {name!r}.")
            items.append((start, stop, tokens.string(f"the text of {where}")))
        tiers.append(TextGridTier(name, kind, xmin, xmax, tuple(items)))
    return tiers


def _pick_tier(tiers: list[TextGridTier], tier: str | int | None, path: Path) -> TextGridTier:
    described = [f"{t.name!r} ({t.kind}, {len(t.intervals)} items)" for t in tiers]
    if not tiers:
        raise BrainalignInputError(f"TextGrid {path} has no tiers.")
    if isinstance(tier, int):
        if not 0 <= tier < len(tiers):
            raise BrainalignInputError(f"TextGrid {path} has {len(tiers)} tier(s), no index {tier}: {described}.")
        return tiers[tier]
    if tier is not None:
        for t in tiers:
            if t.name == tier:
                return t
        raise BrainalignInputError(f"TextGrid {path} has no tier named {tier!r}; its tiers are {described}.")
    if len(tiers) == 1:
        return tiers[0]
    for t in tiers:
        if t.name.lower() in ("word", "words"):
            return t
    raise BrainalignInputError(
        f"TextGrid {path} has {len(tiers)} tiers and none is called 'words'; pass tier= one of {described}."
    )


def read_textgrid(
    path: str | os.PathLike,
    tier: str | int | None = None,
    skip_labels: Sequence[str] | None = DEFAULT_SKIP_LABELS,
    run: str | None = None,
    encoding: str | None = None,
) -> Timeline:
    """Read one tier of a Praat TextGrid as a :class:`~brainalign.Timeline`.

    Parameters
    ----------
    path : str or path-like
        TextGrid file, long or short text format, UTF-8 or UTF-16.
    tier : str, int or None
        Tier name or index.  ``None`` takes the only tier, or the tier named
        ``"word"`` / ``"words"``; otherwise the error lists the tiers.
    skip_labels : sequence of str or None
        Interval labels that are silences, not events (compared after
        stripping white space, case-insensitively).  ``None`` keeps everything.
    run : str or None
        Run label of every event (default ``"run-1"``).
    encoding : str or None
        Force a text encoding (default: detect UTF-16 by its byte-order mark, else UTF-8).

    Returns
    -------
    Timeline
        Tokens are the interval texts, onsets / offsets their start / end in
        seconds **on the audio file's clock**: use ``Timeline.shift`` to move
        them onto the recording's clock (e.g. ``shift(-20.0)`` for 20 s of padding).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = ('File type = "ooTextFile"\\nObject class = "TextGrid"\\n\\n0\\n1.0\\n<exists>\\n1\\n'
    ...         '"IntervalTier"\\n"words"\\n0\\n1.0\\n3\\n0\\n0.2\\n"sp"\\n0.2\\n0.6\\n"hello"\\n0.6\\n1.0\\n"world"\\n')
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.TextGrid"
    >>> _ = p.write_text(text)
    >>> tl = read_textgrid(p)
    >>> list(tl.tokens), tl.onsets.tolist()
    (['hello', 'world'], [0.2, 0.6])
    """
    path = as_path(path, "TextGrid")
    tiers = parse_textgrid(path, encoding=encoding)
    chosen = _pick_tier(tiers, tier, path)
    skip = {s.strip().lower() for s in (skip_labels or ())}
    kept = [(a, b, txt.strip()) for a, b, txt in chosen.intervals if txt.strip().lower() not in skip]
    if not kept:
        raise BrainalignInputError(
            f"Tier {chosen.name!r} of TextGrid {path} has no events left after skipping labels "
            f"{sorted(skip)} ({len(chosen.intervals)} item(s) in total)."
        )
    logger.debug("Read %d events from tier %r of %s", len(kept), chosen.name, path)
    return build_timeline(
        [k[2] for k in kept],
        np.array([k[0] for k in kept]),
        np.array([k[1] for k in kept]),
        run,
        source=f"tier {chosen.name!r} of TextGrid {path}",
    )


def list_textgrid_tiers(path: str | os.PathLike, encoding: str | None = None) -> dict[str, int]:
    """Names of a TextGrid's tiers with their number of items (in file order)."""
    return {t.name: len(t.intervals) for t in parse_textgrid(path, encoding=encoding)}
