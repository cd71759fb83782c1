"""Every Python example of README.md and docs/*.rst runs as written.

Blocks are the ```` ```python ```` fences of the README and the
``.. code-block:: python`` directives and ``>>>`` doctest paragraphs of the
docs.  Each block runs in its own Python process (a fresh namespace, no
registry left over from another block) in a temporary directory, with a
timeout.  A block whose first line is ``# continued from the block above``
runs after the previous block of the same file, in the same process (the
quick start draws the sweep its first block computed).  A block that reads a
results folder the docs assume (``results/alice-study``) runs after a
:data:`SETUP` script that makes a real one.  Blocks that read the real
datasets (``load_alice``, ``find_dataset_dir``, ...) skip when the shared data
folder is absent; slow blocks are marked ``slow``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO_ROOT, shared_data_dir

CONTINUED = "# continued from the block above"
#: Calls that read the shared real datasets.
NEEDS_DATA = re.compile(r"\b(load_alice|list_subjects_alice|find_dataset_dir|load_haxby_subset|"
                        r"load_eeglab_tutorial|shared_data_home|results/alice-study)\b")
#: Blocks that take more than ~20 s on 2 CPU cores (file name or "*", text in the block).
SLOW = [("*", "measure_deficit"), ("feature_extraction.rst", "extract_text_features"), ("*", "StudyResults(")]
TIMEOUT_S = 900

#: Files a block reads that the docs assume exist (text in the block -> script that makes them).
SETUP = {
    # the reader's own model; here the bundled all-MiniLM-L6-v2
    "tag_units(model, streams": """
from brainalign.features import bundled_model_dir
from brainalign.localize import load_language_model

model, tokenizer = load_language_model(bundled_model_dir())
""",
    # the reader's brain states, hidden states, prompts and readout; here a tiny random causal LM and toy data
    "fit_brain_axes(states, hidden_layer6": """
import numpy as np
from brainalign.features import make_random_text_model
from brainalign.localize import load_language_model

model, tokenizer = load_language_model(make_random_text_model("tiny-gpt2", n_layers=8, hidden_size=32))
rng = np.random.default_rng(0)
hidden_layer6 = rng.normal(size=(2500, 32))
states = hidden_layer6[:, :6] @ rng.normal(size=(6, 20)) + rng.normal(size=(2500, 20))
prompts = ["The keeper climbed the stairs", "In the morning the boat"]


def mean_log_frequency(texts):
    return [float(len(t.split())) for t in texts]
""",
    '"results/alice-study"': """
from brainalign.features import make_random_text_model
from brainalign.pipeline import parse_config, run_study

# a real (small) study of two Alice participants and their group average, with a tiny random model
run_study(parse_config({
    "output": "results/alice-study",
    "dataset": {"name": "alice_brennan2016", "subjects": ["s18", "s23"], "group_average": True},
    "models": [{"name": "tiny", "random": {"n_layers": 1, "hidden_size": 16}}],
    "features": {"context_tokens": 16},
    "encoding": {"backend": "numpy", "alphas": [1.0, 1000.0], "gain_bootstraps": 50},
}))
""",
}


def _markdown_blocks(text: str) -> list[tuple[int, str]]:
    blocks = []
    for m in re.finditer(r"^```python[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        blocks.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return blocks


def _rst_blocks(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = re.match(r"^(\s*)\.\. code-block:: python\s*$", line)
        if directive:
            indent = len(directive.group(1))
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith(":")) \
                    and not (lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) <= indent):
                j += 1
            body = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            blocks.append((i + 1, textwrap.dedent("\n".join(body)).strip("\n") + "\n"))
            i = j
            continue
        if line.lstrip().startswith(">>> "):
            start, body = i, []
            while i < len(lines) and lines[i].strip() and lines[i].lstrip().startswith((">>>", "...")):
                stripped = lines[i].lstrip()
                body.append(stripped[4:] if len(stripped) > 3 else "")
                i += 1
            blocks.append((start + 1, "\n".join(body) + "\n"))
            continue
        i += 1
    return blocks


def collect_blocks() -> list:
    files = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.rst"))]
    params = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        blocks = _markdown_blocks(text) if path.suffix == ".md" else _rst_blocks(text)
        previous = ""
        for line, code in blocks:
            source = previous + code if code.lstrip().startswith(CONTINUED) else code
            previous = source
            source = "".join(setup for needle, setup in SETUP.items() if needle in source) + source
            marks = [pytest.mark.slow] if any(f in ("*", path.name) and s in source for f, s in SLOW) else []
            params.append(pytest.param(path.name, line, source, id=f"{path.name}:{line}", marks=marks))
    return params


def test_blocks_are_found():
    """The extractor sees the blocks the docs have (guards against a parser that finds none)."""
    ids = [p.id for p in collect_blocks()]
    assert sum(i.startswith("README.md:") for i in ids) >= 2
    assert sum(i.startswith("data_loading.rst:") for i in ids) == 5
    assert _rst_blocks("Text\n\n>>> x = 1\n>>> print(x + 1)\n2\n") == [(3, "x = 1\nprint(x + 1)\n")]
    assert _rst_blocks(".. code-block:: python\n   :caption: c\n\n   a = 1\n    b\n\nafter\n") == [(1, "a = 1\n b\n")]


@pytest.mark.parametrize(("name", "line", "source"), collect_blocks())
def test_example_runs(name, line, source, tmp_path):
    data = shared_data_dir()
    if NEEDS_DATA.search(source) and not data.is_dir():
        pytest.skip(f"{name}:{line} reads the shared datasets, absent at {data}")
    env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               BRAINALIGN_SHARED_DATA=str(data), BRAINALIGN_DATA=str(tmp_path / "no_data_home"),
               MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", BRAINALIGN_FAST="1")
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}:{line} ran longer than {TIMEOUT_S} s")
    assert done.returncode == 0, f"{name}:{line} failed:\n{source}\n--- stderr ---\n{done.stderr[-4000:]}"
