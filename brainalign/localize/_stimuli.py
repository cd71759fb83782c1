"""Localizer stimuli: two conditions of strings (e.g. sentences vs non-word lists).

Three localizers are provided:

* language (Fedorenko et al. 2010): sentences vs lists of pronounceable
  non-words, from the original CSV files or from a built-in generator;
* multiple demand: hard vs easy arithmetic problems generated from a seed;
* theory of mind: false-belief vs false-photograph stories from your files.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, content_key, hash_file

logger = logging.getLogger("brainalign.localize")

__all__ = [
    "LocalizerStimuli",
    "fetch_fedorenko2010",
    "generate_nonword_lists",
    "generate_sentences",
    "language_localizer",
    "load_fedorenko2010",
    "multiple_demand_localizer",
    "theory_of_mind_localizer",
]


@dataclass(eq=False)
class LocalizerStimuli:
    """Two matched conditions of a functional localizer.

    Units are selected by contrasting model responses to ``condition_a``
    against ``condition_b`` (A > B), e.g. sentences > non-word lists.

    Parameters
    ----------
    name : str
        Localizer name, e.g. ``"language"``.
    condition_a, condition_b : sequence of str
        The stimuli; both conditions must hold the same number of non-empty
        strings (a balanced design: the Welch t-test itself would allow
        unequal sizes, but an unequal count nearly always means a file was
        truncated or mislabelled, so it is refused).
    labels : tuple of str
        Names of the two conditions, e.g. ``("sentences", "non-words")``.
    metadata : dict
        Provenance (source files and their SHA-256, generator seed ...).

    Examples
    --------
    >>> stim = LocalizerStimuli("toy", ["the cat sat"], ["blick fep dax"], ("words", "non-words"))
    >>> stim.n_per_condition
    1
    """

    name: str
    condition_a: Sequence[str]
    condition_b: Sequence[str]
    labels: tuple[str, str] = ("A", "B")
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.condition_a = _clean_condition(self.condition_a, f"{self.name!r} condition A")
        self.condition_b = _clean_condition(self.condition_b, f"{self.name!r} condition B")
        if len(self.condition_a) != len(self.condition_b):
            raise BrainalignInputError(
                f"Localizer {self.name!r} has {len(self.condition_a)} stimuli in condition "
                f"{self.labels[0]!r} but {len(self.condition_b)} in {self.labels[1]!r}; the two "
                "conditions must have the same number of stimuli."
            )
        labels = tuple(str(x) for x in self.labels)
        if len(labels) != 2 or labels[0] == labels[1]:
            raise BrainalignInputError(f"labels must be two different names, got {self.labels!r}.")
        self.labels = labels
        self.metadata = dict(self.metadata)

    @property
    def n_per_condition(self) -> int:
        return len(self.condition_a)

    @property
    def texts(self) -> list[str]:
        """All stimuli, condition A first."""
        return list(self.condition_a) + list(self.condition_b)

    @property
    def is_a(self) -> np.ndarray:
        """Boolean vector over :attr:`texts`: True for condition A."""
        n = self.n_per_condition
        return np.r_[np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]

    @property
    def content_hash(self) -> str:
        """Key of the stimuli themselves (used in mask cache keys)."""
        return content_key(
            {"a": list(self.condition_a), "b": list(self.condition_b), "labels": list(self.labels)}, 32
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "text": self.texts,
                "condition": [self.labels[0]] * self.n_per_condition + [self.labels[1]] * self.n_per_condition,
            }
        )

    def __repr__(self) -> str:
        return (
            f"LocalizerStimuli(name={self.name!r}, labels={self.labels}, "
            f"n_per_condition={self.n_per_condition}, source={self.metadata.get('source')!r})"
        )


def _clean_condition(values, name: str) -> list[str]:
    if isinstance(values, str):
        raise BrainalignInputError(f"{name} must be a list of strings, got a single string.")
    values = list(values)
    if not values:
        raise BrainalignInputError(f"{name} is empty: a localizer needs stimuli in both conditions.")
    clean = []
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise BrainalignInputError(f"{name}: stimulus {i} is {type(v).__name__}, expected str.")
        v = " ".join(v.split())
        if not v:
            raise BrainalignInputError(f"{name}: stimulus {i} is an empty string.")
        clean.append(v)
    return clean


# ---------------------------------------------------------------- Fedorenko 2010
#: SHA-256 of the ten CSV files as distributed in brain-score/language (MIT).
FEDORENKO2010_FILES: dict[str, str] = {
    "langloc_fmri_run1_stim_set1.csv": "6a545fd8033bcddeaf465a6013f65ed511a2aaf537e493a83cb2515989d8316f",
    "langloc_fmri_run1_stim_set2.csv": "d480f698da43ce58a579230dc93145a287da0c0a21266628dee725dc247766b4",
    "langloc_fmri_run1_stim_set3.csv": "cfcd11f6e7879b4b5d038ec16946e8a685527d6f7f176aca5d6565a266a8c4d4",
    "langloc_fmri_run1_stim_set4.csv": "04dfcd8ceef370ed71d2a065d05d833d7c6028d4a4f87afaf8455b204eb8bd5a",
    "langloc_fmri_run1_stim_set5.csv": "4ded965faa4af50afb3ea47ce7df270957d2c27035a7d6c4a6c7e71ff48a2641",
    "langloc_fmri_run2_stim_set1.csv": "39c1c98a856b87a0f927d907a736f00d0631ba37a70768ffcad4eea70a810509",
    "langloc_fmri_run2_stim_set2.csv": "aaad394e427c603d932cef9a072c4046f24b72ad354898cc2d5382267f601a2a",
    "langloc_fmri_run2_stim_set3.csv": "f62ad8c191478278365d664dc111c7bfd6cfe5590bea6f16bc27f86ec2f54f7b",
    "langloc_fmri_run2_stim_set4.csv": "4f03100af15982eeba419bcd457f0a2d4f10ae08d61c5c49cc4f8ad97ec1719a",
    "langloc_fmri_run2_stim_set5.csv": "e52ca8c5cd341fcb8fbc7841c584c4d4e162fa4b3405e1178ccdbb4eec07fe4b",
}
FEDORENKO2010_URL = (
    "https://raw.githubusercontent.com/brain-score/language/main/"
    "brainscore_language/data/fedorenko2010_localization/"
)
_WORD_COLUMNS = [f"stim{i}" for i in range(2, 14)]
_CONDITION_COLUMN = "stim14"


def _read_fedorenko_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in _WORD_COLUMNS + [_CONDITION_COLUMN] if c not in frame.columns]
    if missing:
        raise BrainalignInputError(
            f"{path.name} is not in the Fedorenko et al. (2010) localizer format: missing column(s) "
            f"{missing} (expected stim2..stim13 = 12 words and stim14 = S/N)."
        )
    bad = sorted(set(frame[_CONDITION_COLUMN].str.strip()) - {"S", "N"})
    if bad:
        raise BrainalignInputError(
            f"{path.name}: column stim14 must be 'S' (sentence) or 'N' (non-word list), found {bad}."
        )
    return frame


def load_fedorenko2010(
    directory: str | Path,
    *,
    case: str = "lower",
    check_hashes: bool = True,
) -> LocalizerStimuli:
    """Load the Fedorenko et al. (2010) sentence / non-word-list localizer.

    Reads every ``langloc_fmri_run*_stim_set*.csv`` in ``directory`` (sorted by
    name).  In each row, columns ``stim2`` .. ``stim13`` are the 12 words and
    ``stim14`` is ``S`` (sentence) or ``N`` (non-word list).

    Parameters
    ----------
    directory : str or Path
        Folder holding the CSV files (e.g. made by :func:`fetch_fedorenko2010`).
    case : {"lower", "original"}
        The files are upper case; ``"lower"`` (default) lower-cases every word,
        which suits both cased and uncased tokenizers.
    check_hashes : bool
        Compare the files known by name with their published SHA-256 and raise
        on a mismatch (other CSV files of the same format are read unchecked).

    Returns
    -------
    LocalizerStimuli
        ``condition_a`` = sentences, ``condition_b`` = non-word lists,
        240 each for the full set.

    Examples
    --------
    >>> stim = load_fedorenko2010("../shared/data/fedorenko2010_langloc")  # doctest: +SKIP
    >>> stim.n_per_condition  # doctest: +SKIP
    240
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BrainalignInputError(f"Fedorenko 2010 folder {directory} does not exist.")
    if case not in ("lower", "original"):
        raise BrainalignInputError(f"case must be 'lower' or 'original', got {case!r}.")
    files = sorted(directory.glob("langloc_fmri_run*_stim_set*.csv"))
    if not files:
        raise BrainalignInputError(
            f"No langloc_fmri_run*_stim_set*.csv files in {directory}; fetch them with "
            "brainalign.localize.fetch_fedorenko2010()."
        )
    sentences, nonwords, hashes = [], [], {}
    for path in files:
        digest = hash_file(path)
        hashes[path.name] = digest
        expected = FEDORENKO2010_FILES.get(path.name)
        if check_hashes and expected is not None and digest != expected:
            raise BrainalignInputError(
                f"{path} has SHA-256 {digest}, expected {expected}: the file is corrupt or modified "
                "(pass check_hashes=False to read it anyway)."
            )
        frame = _read_fedorenko_csv(path)
        for _, row in frame.iterrows():
            words = [row[c].strip() for c in _WORD_COLUMNS if row[c].strip()]
            text = " ".join(words)
            if case == "lower":
                text = text.lower()
            (sentences if row[_CONDITION_COLUMN].strip() == "S" else nonwords).append(text)
    return LocalizerStimuli(
        "language",
        sentences,
        nonwords,
        ("sentences", "non-words"),
        {"source": "fedorenko2010", "directory": str(directory), "sha256": hashes, "case": case},
    )


def fetch_fedorenko2010(data_home: str | Path | None = None, *, base_url: str = FEDORENKO2010_URL) -> Path:
    """Download the Fedorenko et al. (2010) localizer CSVs (public copy), hash-checked.

    The files come from the brain-score/language repository (MIT licence) and
    are checked against :data:`FEDORENKO2010_FILES`.  Files already present
    with the right hash are not downloaded again.

    Parameters
    ----------
    data_home : str or Path or None
        Parent folder; defaults to ``$BRAINALIGN_DATA`` or ``~/brainalign_data``.

    Returns
    -------
    Path
        ``<data_home>/fedorenko2010_langloc``, ready for :func:`load_fedorenko2010`.
    """
    import pooch

    from ..datasets import get_data_home

    target = get_data_home(data_home) / "fedorenko2010_langloc"
    for name, digest in FEDORENKO2010_FILES.items():
        pooch.retrieve(
            url=base_url + name, known_hash=f"sha256:{digest}", fname=name, path=target, progressbar=False
        )
    return target


# -------------------------------------------------------- built-in generator
_NOUNS = (
    "dog cat man woman child teacher doctor farmer driver student friend king queen baker "
    "house garden river village window table door letter story song book road city boat "
    "horse bird tree forest market school church kitchen bridge train car sister brother"
).split()
_ADJECTIVES = "small big young quiet happy tired new red green cold warm dark bright busy".split()
_TRANSITIVE = "saw found helped watched painted visited followed carried opened closed bought liked".split()
_INTRANSITIVE = "slept laughed waited arrived smiled cried left stayed danced worked".split()
_PREPOSITIONS = "near behind under inside beside above across".split()
_ADVERBS = "quickly slowly quietly happily early again today".split()
_NAMES = "john mary peter anna david sarah paul emma james laura".split()
_TEMPLATES = (
    # each template has exactly 12 words, like the Fedorenko 2010 sentences
    "the {A} {N} {T} the {A} {N} {P} the {N} last night",
    "{M} said that the {N} {T} the {A} {N} {P} the {N}",
    "after the {A} {N} {I} the {N} {T} the {A} {N} {D}",
    "the {N} {P} the {A} {N} {I} because the {N} was {A}",
    "my {A} {N} {T} the {N} while {M} {I} {P} the {N}",
    "every {N} in the {A} {N} {T} a {A} {N} on sunday",
)
#: the real words the generator can produce (useful to plant selective units in tests)
LEXICON: tuple[str, ...] = tuple(
    sorted(
        set(_NOUNS + _ADJECTIVES + _TRANSITIVE + _INTRANSITIVE + _PREPOSITIONS + _ADVERBS + _NAMES)
        | set(" ".join(_TEMPLATES).replace("{", " ").replace("}", " ").split()) - set("ANTIPMD")
    )
)

_ONSETS = "b d f g k l m n p r s t v z bl br dr fl gr kl pl sl st tr".split()
_VOWELS = "a e i o u ee oo ai oa".split()
_CODAS = ["", "", "n", "m", "t", "p", "k", "sh", "nd", "ft", "l"]
# short common English words a random syllable string could hit by chance
_COMMON = set(
    """a an the be to of and in is it on at by we he me my no so go do up us or as if am
    bat bet bit but bad bed bid bud bag beg big bug ban bin bun bop dot dog dig dug did dad den
    fat fit fan fin fun fog fed fib gap get got gun gum gas kit kid lap let lit lot log led lid
    map men met mud mop mat nap net nut not nod pat pet pit pot pan pen pin pun pig rat red rid
    rot run rug ram sat set sit sun sip sap tap ten tin top tub tug van vet zip zap fool food
    boot book cook look moon noon pool room soon tool beet feet meet seat team teen bean mean
    rain pain main gain boat coat goat road load toad blue true glue slip stop step trip drop
    flat flag grab grin plan plot slam slot slap stem tram trap tree free flee glee""".split()
)


def _nonword(rng: np.random.Generator, forbidden: set[str]) -> str:
    while True:
        n_syllables = int(rng.choice([1, 1, 2, 2, 2, 3]))
        word = "".join(
            _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
            + (_CODAS[rng.integers(len(_CODAS))] if k == n_syllables - 1 else "")
            for k in range(n_syllables)
        )
        if word not in forbidden and len(word) >= 2:
            return word


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` grammatical 12-word English sentences from a small template grammar.

    Examples
    --------
    >>> len(generate_sentences(3, seed=1)[0].split())
    12
    """
    _check_n(n)
    rng = np.random.default_rng(seed)
    slots = {"A": _ADJECTIVES, "N": _NOUNS, "T": _TRANSITIVE, "I": _INTRANSITIVE,
             "P": _PREPOSITIONS, "D": _ADVERBS, "M": _NAMES}
    out = []
    for i in range(n):
        template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        words = []
        for token in template.split():
            if token.startswith("{"):
                options = slots[token[1]]
                words.append(options[int(rng.integers(len(options)))])
            else:
                words.append(token)
        out.append(" ".join(words))
    return out


def generate_nonword_lists(n: int, seed: int = 0, n_words: int = 12) -> list[str]:
    """``n`` lists of ``n_words`` pronounceable non-words (none is a lexicon or common word).

    Examples
    --------
    >>> len(generate_nonword_lists(2, seed=0)[1].split())
    12
    """
    _check_n(n)
    rng = np.random.default_rng([seed, 1])
    forbidden = set(LEXICON) | _COMMON
    return [" ".join(_nonword(rng, forbidden) for _ in range(n_words)) for _ in range(n)]


def _check_n(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise BrainalignInputError(f"n must be a positive integer (stimuli per condition), got {n!r}.")


def language_localizer(source: str | Path = "builtin", *, seed: int = 0, n: int = 240) -> LocalizerStimuli:
    """Sentences vs non-word lists.

    Parameters
    ----------
    source : "builtin" or path
        ``"builtin"`` generates the project's own 12-word sentences and
        pronounceable non-word lists (offline, deterministic given ``seed``);
        a folder path loads the Fedorenko et al. (2010) CSV files from it
        (see :func:`load_fedorenko2010`; ``seed`` and ``n`` are then ignored).
    seed : int
        Generator seed (builtin only).
    n : int
        Stimuli per condition (builtin only).

    Examples
    --------
    >>> stim = language_localizer(seed=0, n=10)
    >>> stim.labels, stim.n_per_condition
    (('sentences', 'non-words'), 10)
    """
    if isinstance(source, str) and source == "builtin":
        return LocalizerStimuli(
            "language",
            generate_sentences(n, seed),
            generate_nonword_lists(n, seed),
            ("sentences", "non-words"),
            {"source": "builtin", "seed": int(seed), "n": int(n)},
        )
    return load_fedorenko2010(source)


def multiple_demand_localizer(seed: int = 0, n: int = 100) -> LocalizerStimuli:
    """Hard vs easy arithmetic problems (a multiple-demand network localizer).

    Both conditions have the same shape, ``"x + y - z ="``, so that token
    counts and the final token match: hard problems use two-digit operands
    and mix ``+``/``-``; easy problems add three single-digit numbers.

    Examples
    --------
    >>> stim = multiple_demand_localizer(seed=0, n=2)
    >>> stim.labels
    ('hard', 'easy')
    """
    _check_n(n)
    rng = np.random.default_rng(seed)
    hard, easy = [], []
    for _ in range(n):
        a, b, c = rng.integers(11, 99, size=3)
        op1, op2 = rng.choice(["+", "-"], size=2)
        hard.append(f"{a} {op1} {b} {op2} {c} =")
        x, y, z = rng.integers(1, 4, size=3)
        easy.append(f"{x} + {y} + {z} =")
    return LocalizerStimuli(
        "multiple_demand", hard, easy, ("hard", "easy"), {"source": "builtin", "seed": int(seed), "n": int(n)}
    )


def _read_stories(path: Path) -> list[str]:
    if not path.is_file():
        raise BrainalignInputError(f"Story file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    stories = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text)]
    stories = [s for s in stories if s]
    if not stories:
        raise BrainalignInputError(f"Story file {path} holds no stories (stories are separated by blank lines).")
    return stories


def theory_of_mind_localizer(belief_file: str | Path, photo_file: str | Path) -> LocalizerStimuli:
    """False-belief vs false-photograph stories (Dodell-Feder et al. 2011 style).

    File format: UTF-8 plain text, one story per paragraph, stories separated
    by one or more blank lines; line breaks inside a story become spaces.
    Both files must hold the same number of stories.

    Examples
    --------
    >>> stim = theory_of_mind_localizer("belief.txt", "photo.txt")  # doctest: +SKIP
    """
    belief_file, photo_file = Path(belief_file), Path(photo_file)
    return LocalizerStimuli(
        "theory_of_mind",
        _read_stories(belief_file),
        _read_stories(photo_file),
        ("false-belief", "false-photo"),
        {"source": "files", "sha256": {str(belief_file): hash_file(belief_file), str(photo_file): hash_file(photo_file)}},
    )


def localize_stimuli(localizer: str = "language", stimuli: str = "builtin", *, seed: int = 0, n: int = 240,
                     belief_file=None, photo_file=None) -> LocalizerStimuli:
    """The stimuli of a localizer by name: ``language``, ``multiple_demand`` or ``theory_of_mind``.

    ``stimuli`` (language only): ``"builtin"`` (generated, ``n`` per
    condition) or a folder of Fedorenko 2010 CSV files; theory of mind needs
    ``belief_file`` and ``photo_file`` (stories separated by blank lines).

    Examples
    --------
    >>> len(localize_stimuli("multiple_demand", n=10).condition_a)
    10
    """
    if localizer == "language":
        return language_localizer(stimuli, seed=seed, n=n)
    if localizer == "multiple_demand":
        return multiple_demand_localizer(seed=seed, n=n)
    if localizer != "theory_of_mind":
        raise BrainalignInputError(f"Unknown localizer {localizer!r}; choose language, multiple_demand or "
                                   "theory_of_mind.")
    if belief_file is None or photo_file is None:
        raise BrainalignInputError("The theory_of_mind localizer needs belief_file and photo_file "
                                   "(--belief-file and --photo-file).")
    return theory_of_mind_localizer(belief_file, photo_file)
