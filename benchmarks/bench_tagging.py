"""Permutation null of frequency tagging: vectorised GEMM vs plain loops over units.

The null of :func:`brainalign.localize.permutation_null` is the amplitude at
the tagged bins (1 Hz and 2 Hz of a 4 words/s stream) for 1000 random word
orders of every stream, for every unit.  Compared in one run, on the same
simulated activations (4 streams x 272 words, standardised):

* ``vectorised``: brainalign (cos/sin of the permuted positions as one matrix,
  one GEMM per stream and chunk of 4096 units);
* ``loop, FFT per permutation``: for each unit, for each permutation, index the
  permuted series and ``np.fft.rfft`` it (the plain way; timed on a subset of
  units and extrapolated);
* ``loop over units, batched FFT``: for each unit, the (P, n_words) permuted
  series of all permutations at once and one ``rfft`` (timed on a subset).

The work is counted as units x permutations per second (both bins, all
streams).  The default size is a 12-layer model's MLP units (12 x 3072 =
36 864 units); ``BRAINALIGN_FAST=1`` uses 2 048 units.

    OMP_NUM_THREADS=1 python benchmarks/bench_tagging.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from brainalign.localize import permutation_null
from brainalign.localize._tagging import _standardise


def main() -> None:
    fast = os.environ.get("BRAINALIGN_FAST") == "1"
    n_units = 2048 if fast else 12 * 3072
    n_streams, n_words, n_perm = 4, 272, 1000
    bins = [n_words // 4, n_words // 2]  # 1 Hz and 2 Hz at 4 words/s
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_streams, n_words, n_units), dtype=np.float32)

    start = time.perf_counter()
    null = permutation_null(x, bins, n_permutations=n_perm, seed=0)
    t_vec = time.perf_counter() - start

    # same permutations as brainalign, so the loops must give the same numbers
    z = _standardise(x)
    positions = np.argsort(np.random.default_rng(0).random((n_perm, n_words)), axis=1)
    order = np.argsort(positions, axis=1)  # permuted series p at time t holds word order[p, t]

    sub_plain, sub_batched = 4 if fast else 8, 64 if fast else 256
    start = time.perf_counter()
    plain = np.zeros((n_perm, len(bins), sub_plain))
    for u in range(sub_plain):
        for p in range(n_perm):
            for s in range(n_streams):
                plain[p, :, u] += np.abs(np.fft.rfft(z[s, order[p], u])[bins])
    t_plain = (time.perf_counter() - start) * n_units / sub_plain
    plain *= 2.0 / n_words / n_streams

    start = time.perf_counter()
    batched = np.zeros((n_perm, len(bins), sub_batched))
    for u in range(sub_batched):
        for s in range(n_streams):
            batched[:, :, u] += np.abs(np.fft.rfft(z[s, :, u][order], axis=1)[:, bins])
    t_batched = (time.perf_counter() - start) * n_units / sub_batched
    batched *= 2.0 / n_words / n_streams

    err = max(np.abs(null[:, :, :sub_plain] - plain).max(), np.abs(null[:, :, :sub_batched] - batched).max())
    work = n_units * n_perm
    print(f"bench_tagging ({n_units} units, {n_streams} streams x {n_words} words, {n_perm} permutations, "
          f"bins 1 Hz + 2 Hz, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    print(f"  vectorised (brainalign GEMM)      : {t_vec:9.2f} s  {work / t_vec:14,.0f} unit-permutations/s")
    print(f"  loop over units, batched FFT      : {t_batched:9.2f} s  {work / t_batched:14,.0f} unit-permutations/s"
          f"  (extrapolated from {sub_batched} units)")
    print(f"  loop over units and permutations  : {t_plain:9.2f} s  {work / t_plain:14,.0f} unit-permutations/s"
          f"  (extrapolated from {sub_plain} units)")
    print(f"  speed-up vs loop over units+perms : {t_plain / t_vec:9.1f}x")
    print(f"  speed-up vs loop, batched FFT     : {t_batched / t_vec:9.1f}x")
    print(f"  max |difference| of null amplitudes: {err:.2e}")


if __name__ == "__main__":
    main()
