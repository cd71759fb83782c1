"""Checks that need a CUDA device; skipped (with the reason) on CPU-only machines such as CI."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


def test_ridge_on_torch_cuda_matches_numpy(rng):
    from himalaya.backend import set_backend

    from brainalign.encoding._solvers import solve_ridge_cv
    from sklearn.model_selection import KFold

    X = rng.normal(size=(400, 64)).astype(np.float32)
    Y = (X @ rng.normal(size=(64, 300)) + 3 * rng.normal(size=(400, 300))).astype(np.float32)
    X_test = rng.normal(size=(50, 64)).astype(np.float32)
    alphas = np.logspace(-1, 5, 10)
    splits = list(KFold(5).split(X))
    results = {}
    for name in ("numpy", "torch_cuda"):
        backend = set_backend(name)
        try:
            results[name] = solve_ridge_cv(X, Y, alphas, splits, X_test=X_test, backend=backend)
        finally:
            set_backend("numpy")
    np.testing.assert_allclose(results["torch_cuda"]["best_alphas"], results["numpy"]["best_alphas"])
    pred_gpu = np.asarray(results["torch_cuda"]["predictions"])
    pred_cpu = np.asarray(results["numpy"]["predictions"])
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(pred_gpu.T, pred_cpu.T)]
    assert min(corr) > 0.9999


def test_text_features_on_cuda_match_cpu(minilm_dir):
    from brainalign import Timeline
    from brainalign.features import extract_text_features

    words = "the keeper climbed the ninety-two steps of the tower every evening".split()
    tl = Timeline(words, np.arange(len(words)) * 0.4)
    cpu = extract_text_features(tl, minilm_dir, context_tokens=16, device="cpu")
    gpu = extract_text_features(tl, minilm_dir, context_tokens=16, device="cuda", dtype="float32")
    for layer in cpu.layer_names:
        np.testing.assert_allclose(gpu[layer], cpu[layer], atol=2e-3, rtol=2e-3)
    half = extract_text_features(tl, minilm_dir, context_tokens=16, device="cuda")  # bf16 default
    assert half.metadata["dtype"] == "bfloat16"
    r = np.corrcoef(half["layer.5"].ravel(), cpu["layer.5"].ravel())[0, 1]
    assert r > 0.99
