#!/usr/bin/env bash
# GPU checks of issue #22, as one script for a machine with a CUDA GPU (run from anywhere):
#
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh     # ~5-8 minutes on an H100/H200
#
# 1. tests/test_gpu.py: the torch_cuda solver agrees with numpy;
# 2. bench_ridge.py --gpu: n = 10 000, p = 4 096, 80 000 targets on torch_cuda, brainalign vs
#    himalaya RidgeCV (goal <= 3.4 s for brainalign on an H100), route FLOPs and GFLOP/s;
# 3. bench_study.py --whole-brain --quick --backend torch_cuda: the simulated whole-brain study with
#    the encoding on the GPU (sequential vs LocalCluster(2) sharing the GPU).
# Without CUDA it stops at once with exit status 2 and says so; nothing else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$PY" - <<'PYEOF'
import sys

try:
    import torch
except ImportError:
    print(f"gpu_check: {sys.executable} has no torch; set PYTHON to the project's interpreter.", file=sys.stderr)
    sys.exit(2)
if not torch.cuda.is_available():
    print(f"gpu_check: torch {torch.__version__} sees no CUDA GPU; these checks need one "
          "(run on a GPU machine).", file=sys.stderr)
    sys.exit(2)
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
PYEOF

echo "== tests/test_gpu.py"
"$PY" -m pytest -q tests/test_gpu.py
echo "== bench_ridge.py --gpu"
"$PY" benchmarks/bench_ridge.py --gpu
echo "== bench_study.py --whole-brain --quick --backend torch_cuda"
"$PY" benchmarks/bench_study.py --whole-brain --quick --backend torch_cuda
