"""Package logger set-up: library code logs, the CLI decides what is shown."""

from __future__ import annotations

import logging

logger = logging.getLogger("brainalign")


def configure_logging(verbosity: int = 0) -> None:
    """Send brainalign's log to stderr: -1 quiet (warnings), 0 info, 1+ debug."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[brainalign] %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def set_log_level(level="info") -> None:
    """How much brainalign logs (and whether progress bars show), from Python: the CLI's ``-v`` / ``-q``.

    ``level``: ``"debug"``, ``"info"`` (default: progress bars and one line
    per step), ``"warning"`` (quiet: no bars) or a :mod:`logging` level.

    Examples
    --------
    >>> import brainalign
    >>> brainalign.set_log_level("warning")
    """
    value = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(value, int):
        raise ValueError(f"level must be debug, info, warning, error or a logging level, got {level!r}")
    configure_logging(-1 if value >= logging.WARNING else 0 if value >= logging.INFO else 1)
    logger.setLevel(value)


def progress_disabled() -> bool:
    """tqdm bars are hidden when the log is quieter than INFO."""
    return logger.getEffectiveLevel() > logging.INFO


def quiet_transformers() -> None:
    """Silence transformers' own weight-loading bars and advisory logs.

    brainalign reports progress with its own tqdm bars and logger; the extra
    per-load bars of transformers only clutter logs and CI output.
    """
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a hard dependency
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
