"""Everything about a study that can be checked before computing, checked at once.

``brainalign run --dry-run`` (and every ``brainalign run``) calls
:func:`check_study` before the first task, so that a missing file, a model
that is not available offline or an output folder that cannot be written is
reported in seconds, all problems in one message, instead of hours later.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from ._config import ConfigError, StudyConfig, resolve_path

__all__ = ["check_study", "study_problems"]


def _writable_problem(folder: Path) -> str | None:
    """Why ``folder`` (created if need be) cannot be written, or None; nothing is left behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"output {folder}: {existing} is a file, not a folder"
    try:
        # a real write: os.access does not see read-only mounts (EROFS) or quotas everywhere
        with tempfile.TemporaryFile(dir=existing, prefix=".brainalign-write-check-"):
            pass
    except OSError as err:
        reason = {errno.EROFS: "is on a read-only file system", errno.EACCES: "is not writable (permission denied)",
                  errno.EPERM: "is not writable (permission denied)"}.get(err.errno, f"cannot be written ({err})")
        where = folder if existing == folder else f"{folder} (its nearest existing folder {existing})"
        return f"output folder {where} {reason}; choose another with -o/--output or output = ..."
    return None


def study_problems(config: StudyConfig, *, output=None) -> list[str]:
    """Every problem found without computing: options, paths, models offline, output writable."""
    from ..features import model_problem

    problems = config.option_problems()
    out = Path(output) if output is not None else resolve_path(config, config.output)
    problem = _writable_problem(out.expanduser().resolve())
    if problem:
        problems.append(problem)
    if config.cache_dir:
        problem = _writable_problem(resolve_path(config, config.cache_dir).resolve())
        if problem:
            problems.append(problem.replace("output folder", "cache_dir folder", 1))

    def must_exist(path, what):
        p = resolve_path(config, path)
        if not p.exists():
            problems.append(f"config {what}: {p} does not exist")

    ds = config.dataset
    if ds is not None and ds.path:
        must_exist(ds.path, "[dataset] path")
    for i, f in enumerate(config.baseline.files):
        must_exist(f, f"[baseline] files[{i}]")
    for key in ("textgrid", "words"):
        if (config.stimulus or {}).get(key):
            must_exist(config.stimulus[key], f"[stimulus] {key}")
    media = (config.stimulus or {}).get("media")
    for run, path in (media.items() if isinstance(media, dict) else [("", media)] if media else []):
        must_exist(path, f"[stimulus] media{'.' + run if run else ''}")
    recording = config.recording or {}
    files = recording.get("files") or []
    for subject, paths in (files.items() if isinstance(files, dict) else [(None, files)]):
        for path in [paths] if isinstance(paths, str) else paths:
            must_exist(path, "[recording] files" + (f".{subject}" if subject else ""))
    if recording.get("mask"):
        must_exist(recording["mask"], "[recording] mask")
    for i, model in enumerate(config.models):
        where = f"config [[models]] {model.label!r} (models[{i}])"
        if model.path is not None:
            p = resolve_path(config, model.path)
            if not p.is_dir():
                problems.append(f"{where}: path {p} (saved features) does not exist")
        elif model.model is not None:
            local = resolve_path(config, model.model)
            name = str(local) if (local.exists() or _path_like(model.model)) else model.model
            revision = model.options.get("revision") or config.features.get("revision")
            reason = model_problem(name, revision=revision)
            if reason:
                problems.append(f"{where}: {reason}")
    return problems


def _path_like(name: str) -> bool:
    """A local path rather than a hub id (``org/name`` has one slash and no leading dot, slash or tilde)."""
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1


def check_study(config: StudyConfig, *, output=None) -> None:
    """Raise one :class:`ConfigError` listing every problem :func:`study_problems` finds.

    A config that :func:`load_config` accepted can still fail here: a model
    folder that does not exist, a hub id missing from the local Hugging Face
    cache (checked on disk: no network retries), a read-only output folder.
    """
    problems = study_problems(config, output=output)
    if problems:
        raise ConfigError("\n".join(problems))

