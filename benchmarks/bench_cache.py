"""Benchmark: what integrity checks cost the feature cache, in ms per GB of features.

One store entry of ``4 layers x ROWS x 1024`` float32 (1 GiB; 256 MiB with
``BRAINALIGN_FAST=1``) is written in 16 chunks and finalized, then opened and
checked.  Measured, each against the named baseline of reading the same bytes:

* finalize: assembling the layers, and the part of it spent hashing them
  (SHA-256 of every file, recorded in the sidecar);
* open with ``verify="size"`` (the default: stat + safetensors header per file);
* open with ``verify="checksum"`` and ``brainalign cache verify`` (SHA-256 of every byte);
* baseline: a plain sequential read of the entry's files (no hashing).

The files were just written, so reads come from the page cache: the hashing
cost is CPU-bound here; on a cold disk the read itself adds the disk's speed.

Run:  python benchmarks/bench_cache.py      (BRAINALIGN_FAST=1 for a small run)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from brainalign.core import Timeline
from brainalign.features import FeatureStore
from brainalign.features._store import _sha256

FAST = os.environ.get("BRAINALIGN_FAST", "0") == "1"
N_LAYERS, DIM, N_CHUNKS = 4, 1024, 16
ROWS = 16_384 if FAST else 65_536


def plain_read(paths: list[Path], block: int = 1 << 20) -> int:
    buffer = bytearray(block)
    total = 0
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                total += n
    return total


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    tl = Timeline([f"w{i}" for i in range(ROWS)], np.arange(ROWS) * 0.1)
    block = np.random.default_rng(0).standard_normal((ROWS // N_CHUNKS, DIM)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(tmp)
        key = "bench"
        writer = store.writer(key, tl, n_chunks=N_CHUNKS, layer_names=[f"layer.{i}" for i in range(N_LAYERS)])
        for k, rows in enumerate(np.array_split(np.arange(ROWS), N_CHUNKS)):
            writer.write_chunk(k, rows, {f"layer.{i}": block + i for i in range(N_LAYERS)})
        start = time.perf_counter()
        writer.finalize()
        finalize_s = time.perf_counter() - start
        entry = Path(tmp) / key
        files = sorted((entry / "layers").iterdir()) + [entry / "timeline.npz"]
        gb = sum(p.stat().st_size for p in files) / 1e9

        hash_s = best_of(lambda: [_sha256(p) for p in files])
        read_s = best_of(lambda: plain_read(files))
        check_s = best_of(lambda: store._inspect(key, checksum=False), repeat=20)
        open_size_s = best_of(lambda: store.get(key, verify="size"), repeat=20)
        open_sum_s = best_of(lambda: store.get(key, verify="checksum"))
        verify_s = best_of(lambda: store.verify_entry(key, checksum=True))

    def per_gb(seconds: float) -> str:
        return f"{seconds * 1e3 / gb:9.1f} ms/GB"

    print(f"entry: {N_LAYERS} layers x {ROWS} rows x {DIM} float32 = {gb:.3f} GB in {len(files)} files "
          f"(warm page cache, 1 thread)")
    print(f"finalize (assemble + hash)          : {finalize_s * 1e3:9.1f} ms  {per_gb(finalize_s)}")
    print(f"  of which SHA-256 of the files     : {hash_s * 1e3:9.1f} ms  {per_gb(hash_s)}  "
          f"({hash_s / finalize_s:.0%} of finalize)")
    print(f"baseline: plain read of the files   : {read_s * 1e3:9.1f} ms  {per_gb(read_s)}")
    print(f"size + header check alone           : {check_s * 1e3:9.3f} ms  (per open, independent of the data "
          f"size; {check_s / read_s:.4f}x the plain read)")
    print(f"open, verify='size' (default)       : {open_size_s * 1e3:9.3f} ms  (check + timeline + memory maps; "
          f"{open_size_s / read_s:.3f}x the plain read)")
    print(f"open, verify='checksum'             : {open_sum_s * 1e3:9.1f} ms  {per_gb(open_sum_s)}  "
          f"({open_sum_s / read_s:.2f}x the plain read)")
    print(f"verify_entry / brainalign cache verify: {verify_s * 1e3:7.1f} ms  {per_gb(verify_s)}  "
          f"({verify_s / read_s:.2f}x the plain read)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
