"""Where datasets live on disk, checking local copies, and downloading with pooch."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

from .._logging import progress_disabled
from ..core import hash_file
from ._registry import get_dataset_info

logger = logging.getLogger("brainalign.datasets")

DATA_ENV = "BRAINALIGN_DATA"
SHARED_ENV = "BRAINALIGN_SHARED_DATA"


class DataUnavailableError(OSError):
    """A dataset is neither on disk nor downloadable right now (message says where to put it)."""


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Folder holding downloaded datasets: ``data_home``, else ``$BRAINALIGN_DATA``, else ``~/brainalign_data``.

    Examples
    --------
    >>> get_data_home("/tmp/x").as_posix()
    '/tmp/x'
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    return Path(os.environ.get(DATA_ENV, "~/brainalign_data")).expanduser()


def shared_data_home() -> Path:
    """The team's read-only copy of small real datasets (tests, tutorials, benchmarks)."""
    if os.environ.get(SHARED_ENV):
        return Path(os.environ[SHARED_ENV]).expanduser()
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def find_dataset_dir(name: str, path: str | os.PathLike | None = None, data_home=None) -> Path:
    """Local folder of dataset ``name``: ``path`` if given, else the data home, else the shared copy.

    Raises
    ------
    DataUnavailableError
        Naming every place looked at and how to fill one of them.
    """
    info = get_dataset_info(name)
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise DataUnavailableError(f"Dataset folder {path} for {name!r} does not exist.")
        return path
    candidates = [get_data_home(data_home) / info.folder]
    if info.shared_folder:
        candidates.append(shared_data_home() / info.shared_folder)
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise DataUnavailableError(
        f"Dataset {name!r} not found; looked in {[str(c) for c in candidates]}. Run "
        f"`brainalign datasets fetch {name}` or download it from {info.landing_url} into "
        f"{candidates[0]} (the data home is set by ${DATA_ENV})."
    )


def check_dataset(name: str, path: str | os.PathLike | None = None, data_home=None) -> dict[str, str]:
    """Status of each registered file of a local copy: ``"ok"``, ``"missing"``, ``"sha256 mismatch"``,
    or ``"present (no checksum)"``."""
    info = get_dataset_info(name)
    root = find_dataset_dir(name, path, data_home)
    status = {}
    for f in info.files:
        target = root / f.path
        if not target.is_file():
            status[f.path] = "missing"
        elif f.sha256 is None:
            status[f.path] = "present (no checksum)"
        else:
            status[f.path] = "ok" if hash_file(target) == f.sha256 else "sha256 mismatch"
    return status


def _can_connect(url: str, timeout: float) -> str | None:
    """None when ``url`` answers an HTTP HEAD request within ``timeout`` s, else the reason.

    A real request, not only a TCP connect: some networks accept every
    connection and then never answer.  Runs in a thread so that no stage
    (DNS lookup included) can block longer than ``timeout``.
    """
    import requests

    outcome: list[str | None] = []

    def attempt():
        try:
            response = requests.head(url, timeout=(timeout, timeout), allow_redirects=True)
            outcome.append(None if response.status_code < 400 else f"HTTP {response.status_code}")
        except requests.RequestException as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if not outcome:
        return f"no answer from {urlparse(url).hostname} within {timeout:g} s"
    return outcome[0]


def fetch(name: str, data_home=None, *, timeout: float = 5.0, force: bool = False) -> Path:
    """Download the registered files of dataset ``name`` into ``<data home>/<folder>``, checking sha256.

    Files already there with the right checksum are kept (so an interrupted
    fetch resumes).  Without network access it fails within ``timeout``
    seconds, naming the URL and the folder where the files can be placed by
    hand.  Files with no direct link (``url=None``) must be placed by hand.

    Returns
    -------
    Path
        The dataset's local folder.
    """
    import pooch

    info = get_dataset_info(name)
    root = get_data_home(data_home) / info.folder
    manual = [f for f in info.files if f.url is None]
    todo = []
    for f in info.files:
        target = root / f.path
        if target.is_file() and not force and (f.sha256 is None or hash_file(target) == f.sha256):
            continue
        todo.append(f)
    missing_manual = [f for f in todo if f.url is None]
    if missing_manual or not info.files:
        listing = ", ".join(f.path for f in missing_manual) or "the dataset's files"
        raise DataUnavailableError(
            f"Dataset {name!r} has no direct download link for {listing}. Download from "
            f"{info.landing_url} and place the files under {root} (set ${DATA_ENV} to change the data home), "
            f"then run `brainalign datasets check {name}`. See {info.card}."
        )
    for f in todo:
        reason = _can_connect(f.url, timeout)
        if reason is not None:
            raise DataUnavailableError(
                f"Cannot download {f.url} ({reason}). Offline? Download it by hand and save it as "
                f"{root / f.path} (data home {root.parent}, set by ${DATA_ENV}); see {info.card}."
            )
        known = f"sha256:{f.sha256}" if f.sha256 else None
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            pooch.retrieve(
                f.url, known_hash=known, fname=target.name, path=target.parent,
                downloader=pooch.HTTPDownloader(timeout=(timeout, 60), progressbar=not progress_disabled()),
            )
        except Exception as exc:  # requests / pooch raise many kinds
            raise DataUnavailableError(
                f"Download of {f.url} failed ({type(exc).__name__}: {exc}). Place the file by hand at {target}."
            ) from None
        if f.sha256 is None:
            logger.info("Fetched %s (sha256 %s, not in the registry).", f.path, hash_file(target))
    if manual:
        logger.info("Dataset %s: %d file(s) must be placed by hand (see %s).", name, len(manual), info.card)
    return root


def make_fetcher(name: str):
    """``fetch_<name>(data_home=None, *, timeout=5.0)``: :func:`fetch` for one registered dataset."""

    def fetcher(data_home=None, *, timeout: float = 5.0) -> Path:
        return fetch(name, data_home, timeout=timeout)

    info = get_dataset_info(name)
    fetcher.__name__ = fetcher.__qualname__ = f"fetch_{name}"
    fetcher.__doc__ = (
        f"Download {info.title} into ``<data home>/{info.folder}`` (see :func:`fetch`).\n\n"
        f"Source: {info.landing_url}; licence: {info.licence}.  Offline, it fails within ``timeout`` s "
        f"naming the URL and the folder to put the files in by hand.\n"
    )
    return fetcher
