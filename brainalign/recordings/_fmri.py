"""fMRI volumes (NIfTI) to a Recording through a nilearn masker."""

from __future__ import annotations

import logging
import os
import warnings
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core import BrainalignInputError, Recording, hash_file
from ..core.validation import positive_or_zero, positive_seconds
from ._space import wrap_dropped
from ._clean import clean_run, cleaning_metadata, confounds_per_run, read_confounds, run_names

logger = logging.getLogger("brainalign.recordings")


def _describe(img: Any, i: int) -> str:
    return str(img) if isinstance(img, (str, os.PathLike)) else f"image #{i + 1} ({type(img).__name__})"


def load_image(img: Any, what: str = "image"):
    """Load a NIfTI (path or image) with all its data read now, so a corrupt file fails here.

    A truncated ``.nii.gz`` only fails when its voxels are read; reading them
    at once gives an error that names the file instead of one deep inside a
    masker.
    """
    import nibabel as nib

    if not isinstance(img, (str, os.PathLike)):
        if not hasattr(img, "get_fdata"):
            raise BrainalignInputError(f"{what} must be a path or a nibabel image, got {type(img).__name__}.")
        return img
    path = Path(img)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    try:
        loaded = nib.load(path)
        data = np.asanyarray(loaded.dataobj)
    except (EOFError, OSError, zlib.error, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise BrainalignInputError(
            f"Cannot read {what} {path}: {type(exc).__name__}: {exc}. The file is truncated or corrupt "
            f"(compare its size / checksum with the source)."
        ) from None
    return type(loaded)(data, loaded.affine, loaded.header)


def header_tr(img) -> float | None:
    """Repetition time (s) stored in a 4-D NIfTI header (pixdim[4]), or None when unknown.

    ``pixdim[4]`` is converted from ms / µs when ``xyzt_units`` says so.  It
    counts as unknown when it is 0, or exactly 1 with unknown time units
    (the placeholder many converters write).
    """
    header = img.header
    zooms = header.get_zooms()
    if len(zooms) < 4:
        return None
    tr = float(zooms[3])
    unit = header.get_xyzt_units()[1] if hasattr(header, "get_xyzt_units") else "unknown"
    if unit == "msec":
        tr /= 1000.0
    elif unit == "usec":
        tr /= 1e6
    if tr <= 0 or (tr == 1.0 and unit == "unknown"):
        return None
    return tr


def resolve_tr(header_trs: Sequence[float | None], tr: float | None, sources: Sequence[str]) -> float:
    """One TR for all runs: the header's, checked against the user's ``tr`` when both are known."""
    known = {s: t for s, t in zip(sources, header_trs) if t is not None}
    values = sorted(set(round(t, 6) for t in known.values()))
    if len(values) > 1:
        raise BrainalignInputError(
            f"Runs have different TRs in their headers: {known}. Load runs with different TRs separately."
        )
    if tr is not None:
        tr = positive_seconds(tr, "tr", "the repetition time in seconds")
        for source, t in known.items():
            if abs(t - tr) > 1e-3 * max(t, tr):
                raise BrainalignInputError(
                    f"tr={tr} s contradicts the header of {source}, which says TR = {t} s. "
                    f"Fix the header (or drop tr=) rather than overriding it."
                )
        unknown = [s for s, t in zip(sources, header_trs) if t is None]
        if unknown:
            logger.info("TR unknown in the header of %s; using tr=%s s.", unknown[:3], tr)
        return float(tr)
    if len(known) < len(sources):
        missing = [s for s, t in zip(sources, header_trs) if t is None]
        raise BrainalignInputError(
            f"The header of {missing[0]} does not give the TR (pixdim[4] is 0 or a placeholder 1 with "
            f"unknown units); pass tr= in seconds."
        )
    return float(values[0])


def _build_masker(mask_img, labels_img, spheres, sphere_radius, smoothing_fwhm):
    from nilearn import maskers

    if smoothing_fwhm is not None:
        smoothing_fwhm = positive_or_zero(smoothing_fwhm, "smoothing_fwhm", unit="mm")
    chosen = [n for n, v in (("mask_img", mask_img), ("labels_img", labels_img), ("spheres", spheres)) if v is not None]
    if len(chosen) > 1:
        raise BrainalignInputError(f"Pass only one of mask_img, labels_img, spheres (got {chosen}).")
    if labels_img is not None:
        labels_img = load_image(labels_img, "labels image")
        return maskers.NiftiLabelsMasker(labels_img, smoothing_fwhm=smoothing_fwhm, standardize=None), "roi"
    if spheres is not None:
        try:
            seeds = [tuple(float(c) for c in s) for s in spheres]
        except (TypeError, ValueError):
            seeds = []
        if not seeds or any(len(s) != 3 or not np.all(np.isfinite(s)) for s in seeds):
            raise BrainalignInputError(f"spheres must be a list of (x, y, z) MNI coordinates, got {spheres!r}.")
        sphere_radius = positive_seconds(sphere_radius, "sphere_radius", "the sphere radius in mm", unit="mm")
        return (
            maskers.NiftiSpheresMasker(seeds, radius=sphere_radius, smoothing_fwhm=smoothing_fwhm, standardize=None),
            "roi",
        )
    if isinstance(mask_img, str) and mask_img.lower() == "mni152":
        from nilearn.datasets import load_mni152_brain_mask

        mask_img = load_mni152_brain_mask()
    elif mask_img is not None:
        mask_img = load_image(mask_img, "mask image")
    return maskers.NiftiMasker(mask_img, smoothing_fwhm=smoothing_fwhm, standardize=None), "fmri"


def _warn_if_resampled(masker, image, source: str) -> None:
    """Warn when the mask / atlas is on another grid than the images (nilearn resamples it silently)."""
    for attr, what, direction in (
        ("mask_img", "mask image", "resamples every run onto the mask's grid (continuous interpolation, slow "
                                   "for large images)"),
        ("labels_img", "labels image", "resamples the atlas onto the images' grid (nearest neighbour, which can "
                                       "move region borders by a voxel)"),
    ):
        ref = getattr(masker, attr, None)
        if ref is None or not hasattr(ref, "affine"):
            continue
        same_shape = tuple(ref.shape[:3]) == tuple(image.shape[:3])
        same_affine = np.allclose(ref.affine, image.affine, atol=1e-3)
        if same_shape and same_affine:
            return
        differs = " and ".join(p for p, same in (("shape", same_shape), ("affine", same_affine)) if not same)
        message = (
            f"The {what} (shape {tuple(ref.shape[:3])}) and {source} (shape {tuple(image.shape[:3])}) are on "
            f"different voxel grids (their {differs} differ{'s' if ' and ' not in differs else ''}); "
            f"nilearn {direction}. "
            f"Resample one onto the other yourself (nilearn.image.resample_to_img) to silence this warning."
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
        return


def _target_names(masker, kind: str, n_targets: int, roi_names, spheres) -> list[str] | None:
    if roi_names is not None:
        roi_names = [str(n) for n in roi_names]
        if len(roi_names) != n_targets:
            raise BrainalignInputError(f"Got {len(roi_names)} roi_names for {n_targets} regions.")
        return roi_names
    if kind == "fmri":
        return None
    if spheres is not None:
        return [f"sphere({x:g},{y:g},{z:g})" for x, y, z in spheres]
    ids = getattr(masker, "region_ids_", None)
    if isinstance(ids, dict):
        values = [v for k, v in ids.items() if k != "background"]
        if len(values) == n_targets:
            return [f"label-{int(v) if float(v).is_integer() else v}" for v in values]
    return [f"label-{i + 1}" for i in range(n_targets)]


def load_fmri(
    imgs,
    *,
    mask_img=None,
    labels_img=None,
    spheres: Sequence[Sequence[float]] | None = None,
    sphere_radius: float = 6.0,
    roi_names: Sequence[str] | None = None,
    tr: float | None = None,
    runs: Sequence[str] | None = None,
    confounds=None,
    high_pass: float | None = None,
    low_pass: float | None = None,
    detrend: bool = True,
    standardize: str | bool = "zscore_sample",
    smoothing_fwhm: float | None = None,
    subject: str = "sub-01",
    on_bad_targets: str = "raise",
) -> Recording:
    """Load 4-D fMRI runs into a :class:`~brainalign.Recording` through a nilearn masker.

    Parameters
    ----------
    imgs : path, Nifti1Image, or list of them
        One 4-D image per run.
    mask_img : path, image, ``"mni152"`` or None
        Voxel mask (``NiftiMasker``); ``"mni152"`` uses nilearn's bundled MNI152
        brain mask; ``None`` computes a mask from the images.  Gives
        ``kind="fmri"`` with one target per voxel.
    labels_img : path, image or None
        Atlas of integer labels (``NiftiLabelsMasker``): one target per region,
        ``kind="roi"``.
    spheres : list of (x, y, z) or None
        Sphere centres in world (MNI) mm (``NiftiSpheresMasker``) of radius
        ``sphere_radius`` mm: one target per sphere, ``kind="roi"``.
    roi_names : list of str or None
        Names of the regions / spheres (default ``label-N`` / ``sphere(x,y,z)``).
    tr : float or None
        Repetition time in seconds.  By default read from the header
        (``pixdim[4]``).  When given, it must agree with the header (an error
        names the file otherwise) unless the header's value is unknown: 0, or
        1 with unknown time units (a common placeholder).
    runs : list of str or None
        Run labels (default ``run-1``, ``run-2``, ...).
    confounds : array, DataFrame, path, or list of those (one per run), or None
        Nuisance regressors (e.g. motion parameters) regressed out of each run.
    high_pass, low_pass : float or None
        Butterworth filter cut-offs in Hz (e.g. ``high_pass=0.01``).
    detrend : bool
        Remove a linear trend per run.
    standardize : {"zscore_sample", "zscore", "psc", False}
        Per-run standardisation (``nilearn.signal.clean``).
    smoothing_fwhm : float or None
        Spatial smoothing (mm) applied by the masker.
    subject : str
        Participant label.
    on_bad_targets : {"raise", "drop"}
        What to do with NaN or constant voxels (see :class:`~brainalign.Recording`).
        Dropped voxels come back as 0 in ``to_image`` maps.

    Returns
    -------
    Recording
        ``space`` is the fitted masker, so ``recording.to_image(values)`` maps
        per-target values back to a NIfTI image.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> rng = np.random.default_rng(0)
    >>> img = nib.Nifti1Image(rng.normal(size=(4, 4, 4, 30)).astype("float32"), np.eye(4))
    >>> img.header.set_zooms((1, 1, 1, 2.0))
    >>> mask = nib.Nifti1Image(np.ones((4, 4, 4), dtype="uint8"), np.eye(4))
    >>> rec = load_fmri(img, mask_img=mask)
    >>> rec.n_samples, rec.n_targets, rec.sampling_period
    (30, 64, 2.0)
    """
    img_list = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
    if not img_list:
        raise BrainalignInputError("No images given.")
    sources = [_describe(im, i) for i, im in enumerate(img_list)]
    images = [load_image(im, "fMRI image") for im in img_list]
    for src, im in zip(sources, images):
        if len(im.shape) != 4 or im.shape[3] < 2:
            raise BrainalignInputError(
                f"{src} has shape {im.shape}; each run must be one 4-D image (x, y, z, time)."
            )
    sampling_period = resolve_tr([header_tr(im) for im in images], tr, sources)
    labels = run_names(runs, len(images))
    confound_list = confounds_per_run(confounds, len(images))

    masker, kind = _build_masker(mask_img, labels_img, spheres, sphere_radius, smoothing_fwhm)
    _warn_if_resampled(masker, images[0], sources[0])
    if kind == "fmri" and mask_img is None:
        masker.fit(images)
    else:
        masker.fit()
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    blocks, run_col = [], []
    progress = tqdm(
        list(zip(labels, sources, images, confound_list)), desc="masking runs", unit="run",
        disable=progress_disabled() or len(images) < 3,
    )
    for label, src, im, conf in progress:
        signals = masker.transform(im)
        conf_arr = read_confounds(conf, signals.shape[0], label)
        signals = clean_run(
            signals,
            sampling_period,
            detrend=detrend,
            standardize=standardize,
            confounds=conf_arr,
            high_pass=high_pass,
            low_pass=low_pass,
        )
        blocks.append(np.asarray(signals, dtype=np.float32))
        run_col += [label] * signals.shape[0]
        logger.debug("Run %s (%s): %s", label, src, signals.shape)
    data = np.vstack(blocks)
    names = _target_names(masker, kind, data.shape[1], roi_names, spheres)
    metadata = {
        "sources": sources,
        "file_sha256": {s: hash_file(s) for s in sources if Path(s).is_file()},
        "masker": type(masker).__name__,
        "tr_source": "argument" if tr is not None else "header",
        "cleaning": cleaning_metadata(detrend, standardize, high_pass, low_pass, confounds),
        "smoothing_fwhm": smoothing_fwhm,
    }
    recording = Recording(
        data,
        sampling_period,
        runs=run_col,
        target_names=names,
        kind=kind,
        space=masker,
        subject=subject,
        metadata=metadata,
        on_bad_targets=on_bad_targets,
    )
    return wrap_dropped(recording)
