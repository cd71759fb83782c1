"""Which himalaya backend does the number crunching, and a scoped way to switch it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..core import BrainalignInputError

#: names accepted for ``backend=``; "cpu" is an alias of himalaya's "numpy"
KNOWN_BACKENDS = ("auto", "cpu", "numpy", "torch", "torch_cuda")


def resolve_backend(backend: str = "auto") -> str:
    """Return the himalaya backend name for ``backend``.

    ``"auto"`` picks ``"torch_cuda"`` when torch sees a CUDA GPU, otherwise
    ``"numpy"`` (float32 on the CPU).
    """
    if backend not in KNOWN_BACKENDS:
        raise BrainalignInputError(f"Unknown backend {backend!r}; expected one of {KNOWN_BACKENDS}.")
    if backend == "cpu":
        return "numpy"
    if backend == "auto":
        try:
            import torch

            return "torch_cuda" if torch.cuda.is_available() else "numpy"
        except ImportError:
            return "numpy"
    if backend == "torch_cuda":
        import torch

        if not torch.cuda.is_available():
            raise BrainalignInputError("backend='torch_cuda' was requested but torch sees no CUDA GPU.")
    return backend


@contextmanager
def using_backend(backend: str = "auto") -> Iterator[object]:
    """Set himalaya's backend for the duration of a block, then restore the previous one."""
    from himalaya.backend import get_backend, set_backend

    previous = get_backend().name
    # himalaya's torch_cuda module reports name "torch_cuda"; restore by that name
    module = set_backend(resolve_backend(backend))
    try:
        yield module
    finally:
        set_backend(previous)
