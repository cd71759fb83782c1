"""Benchmark: decoding + embedding every frame of a movie file, streamed by chunks vs decode-everything-first.

A synthetic 25 fps, 640x360 (360p) H.264 movie is written with
:func:`brainalign.stimuli.write_synthetic_movie`.  Two methods embed every
frame with a small random-init ViT (from a config, 64x64 input):

- **streamed** — :func:`brainalign.features.extract_video_features` on the
  file: frames are decoded chunk by chunk after a seek (256 frames per stored
  chunk, 32 per forward pass) and each chunk is written to the feature store;
- **naive** — decode every frame into a list of RGB arrays, then embed the
  stacked array with :func:`brainalign.features.extract_image_features`.

Each measurement runs in a fresh process; its peak resident memory (ru_maxrss)
is reported minus the same process's peak after imports and model set-up, so
the number is what the method itself holds.  The naive method holds every
decoded frame (about 0.69 MB each at 360p, 10 GB for 10 minutes), so in the
full run it is measured on 1- and 2-minute prefixes and its memory growth per
minute is reported instead of exhausting the shared machine.

Run:  python benchmarks/bench_video.py           (10-minute movie)
      python benchmarks/bench_video.py --fast    (20-second movie, naive on all of it)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT, FPS = 640, 360, 25


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _model():
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    net = ViTModel(ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                             image_size=64, patch_size=16), add_pooling_layer=False).eval()
    processor = ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return net, processor


def worker(method: str, path: str, seconds: float | None) -> dict:
    """One measurement in this (fresh) process."""
    import numpy as np
    import torch

    from brainalign.features import extract_image_features, extract_video_features

    torch.set_num_threads(1)
    net, processor = _model()
    # warm-up on a few frames so one-time costs (imports, first forward) are in the baseline
    extract_image_features(np.zeros((2, HEIGHT, WIDTH, 3), np.uint8), net, processor=processor, device="cpu")
    base = _rss_mb()
    t0 = time.perf_counter()
    if method == "streamed":
        with tempfile.TemporaryDirectory() as store:
            fs = extract_video_features(path, net, processor=processor, chunk_frames=256, batch_size=32,
                                        device="cpu", cache_dir=store)
            n = fs.n_events
    else:
        import av

        frames = []
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # same decoder threading as the streamed reader
            for frame in container.decode(stream):
                if seconds is not None and frame.time >= seconds:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
        fs = extract_image_features(np.stack(frames), net, processor=processor, batch_size=32, device="cpu")
        n = fs.n_events
    seconds_taken = time.perf_counter() - t0
    return {"method": method, "frames": int(n), "seconds": seconds_taken, "fps": n / seconds_taken,
            "peak_rss_mb": _rss_mb(), "baseline_rss_mb": base, "method_rss_mb": _rss_mb() - base}


def run_worker(method: str, path: Path, seconds: float | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", BRAINALIGN_BENCH_WORKER="1")
    cmd = [sys.executable, __file__, "--worker", method, str(path)] + ([] if seconds is None else [str(seconds)])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_movie(path: Path, seconds: float) -> float:
    from brainalign.stimuli import write_synthetic_movie

    t0 = time.perf_counter()
    write_synthetic_movie(path, duration=seconds, fps=FPS, size=(WIDTH, HEIGHT), audio=False, crf=28)
    return time.perf_counter() - t0


def line(r: dict, label: str) -> str:
    return (f"  {label:<34s} {r['frames']:6d} frames {r['seconds']:8.1f} s {r['fps']:7.1f} frames/s   "
            f"peak RSS {r['peak_rss_mb']:7.0f} MiB (+{r['method_rss_mb']:6.0f} MiB over set-up)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="20-second movie (default: 10 minutes)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, path, *rest = args.worker
        print(json.dumps(worker(method, path, float(rest[0]) if rest else None)))
        return
    fast = args.fast or os.environ.get("BRAINALIGN_FAST") == "1"
    seconds = 20.0 if fast else 600.0
    with tempfile.TemporaryDirectory() as tmp:
        movie = Path(tmp) / "movie.mp4"
        made = make_movie(movie, seconds)
        short = Path(tmp) / "short.mp4"
        if not fast:
            make_movie(short, 20.0)
        size_mb = movie.stat().st_size / 2**20
        print(f"bench_video ({'fast' if fast else 'full'}): {seconds:g} s synthetic movie, {WIDTH}x{HEIGHT} at "
              f"{FPS} fps ({int(seconds * FPS)} frames, H.264, {size_mb:.1f} MiB, written in {made:.0f} s); "
              "random-init ViT (2 blocks, width 64, 64x64 input), CPU, 1 torch thread")
        streamed = run_worker("streamed", movie)
        print(line(streamed, f"streamed, {seconds:g} s movie"))
        if fast:
            naive = run_worker("naive", movie)
            print(line(naive, f"naive decode-all, {seconds:g} s"))
            speed = streamed["fps"] / naive["fps"]
            print(f"  speed streamed / naive: {speed:.2f}x;  memory held: streamed +{streamed['method_rss_mb']:.0f} MiB "
                  f"vs naive +{naive['method_rss_mb']:.0f} MiB")
        else:
            n1 = run_worker("naive", movie, 60.0)
            print(line(n1, "naive decode-all, first 60 s"))
            n2 = run_worker("naive", movie, 120.0)
            print(line(n2, "naive decode-all, first 120 s"))
            per_minute = n2["method_rss_mb"] - n1["method_rss_mb"]
            projected = n1["method_rss_mb"] + per_minute * (seconds / 60.0 - 1)
            print(f"  naive memory grows {per_minute:.0f} MiB per minute of movie: about {projected / 1024:.1f} GiB "
                  f"for the {seconds / 60:g}-minute movie (not run: it would exhaust the shared machine)")
            print(f"  speed streamed / naive (2-min prefix): {streamed['fps'] / n2['fps']:.2f}x")
            streamed_short = run_worker("streamed", short)
            print(line(streamed_short, "streamed, 20 s movie"))
            print(f"  streamed memory, {seconds:g} s vs 20 s movie: +{streamed['method_rss_mb']:.0f} vs "
                  f"+{streamed_short['method_rss_mb']:.0f} MiB (bounded by the chunk, not the movie length)")


if __name__ == "__main__":
    main()
