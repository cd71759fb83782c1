"""``brainalign COMMAND --help`` start-up CPU time against importing torch (the baseline it used to pay).

Each command's ``--help`` runs in a fresh interpreter, best of ``--repeat``
runs; the baseline is a fresh interpreter that only imports torch and
transformers (what ``extract --help`` imported before the CLI was built
from torch-free option models).  Prints seconds and the ratio; the goal
(issue #19, item 8) is no torch import at parse time, i.e. a ratio well
below 1.

    python benchmarks/bench_cli_help.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import resource


def _best(cmd: list[str], repeat: int) -> float:
    """CPU seconds (user + system) of the child, best of ``repeat``: robust to a busy machine."""
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    baseline = _best([sys.executable, "-c", "import torch, transformers"], args.repeat)
    print(f"baseline: python -c 'import torch, transformers'   {baseline:6.2f} s CPU")
    for command in (["--help"], ["extract", "text", "--help"], ["encode", "--help"], ["run", "--help"],
                    ["localize", "--help"], ["tag", "--help"], ["steer", "--help"]):
        seconds = _best([sys.executable, "-m", "brainalign.cli", *command], args.repeat)
        print(f"brainalign {' '.join(command):<22} {seconds:6.2f} s CPU   {seconds / baseline:5.2f}x the baseline")


if __name__ == "__main__":
    main()
