"""``brainalign demo``: a simulated participant end to end (features -> design -> ridge -> layer map)."""

from __future__ import annotations

import argparse

from . import add_output
from ._options import add_options, options_from_args


def _config_class():
    from ..demo import DemoConfig

    return DemoConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output(parser, default="demo_results")
    add_options(parser, _config_class(), title="demo options")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    config = options_from_args(args, _config_class())
    result = run_demo(config, args.output)
    table = result.summary_table()
    noise_r = result.noise_voxel_r
    lines = [
        "",
        "brainalign demo: simulated participant, real all-MiniLM-L6-v2 features",
        f"  {result.planted_layer.size} voxels (MNI152 mask at {config.voxel_size_mm:g} mm), "
        f"{int(result.noise_voxels.sum())} pure-noise voxels, TR {config.tr:g} s, SNR {config.snr:g}, "
        "leave-one-story-out CV",
        "",
        table.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        "",
        f"  layer recovery accuracy: {100 * result.recovery_accuracy:.1f}% of signal voxels",
        f"  pure-noise voxels: mean r {noise_r.mean():+.3f} (sd {noise_r.std():.3f})",
        f"  results: {result.output_dir}  (figure: figures/demo_layer_map.png)",
        f"  time: {result.timings.get('total_s', float('nan')):.1f} s",
    ]
    print("\n".join(lines))
    return 0
