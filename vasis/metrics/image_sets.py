"""FID (and precision / recall / density / coverage) between two sets of images, each a folder,
a ``.npz`` of statistics (``mu``, ``sigma``) or images in memory - what ``run_analysis.py fid``
and the reports call. The Inception features of a set are computed once and serve both FID and
PRDC. Every result names its weights and the number of images per side, because FID depends on
both: on few images it is biased upward (:data:`SMALL_N_NOTE`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import ExistsError, MissingFileError, UserError
from . import fid as _fid
from .density_coverage import PRDC_NEAREST_K, check_nearest_k, prdc_scores

SMALL_N_NOTE = ("FID on few images is biased upward (even two samples of one distribution score "
                "well above 0, more so the fewer images), so compare FID only between rows with "
                "the same N and weights, never with published values computed on thousands of "
                "images.")


@dataclass
class ImageSet:
    """One side: ``kind`` 'folder', 'npz' or 'images'; images (files or in memory) or stats."""

    name: str
    kind: str
    n: int | None
    images: object = None
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None
    weights: str | None = None          # weights label (npz: as stored, if any)
    weights_sha256: str | None = None
    features: np.ndarray | None = None


def load_statistics(path) -> ImageSet:
    """A ``.npz`` of FID statistics (pytorch-fid's ``mu`` / ``sigma``; the suite also stores
    ``n``, ``weights``, ``weights_sha256``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"statistics file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's input
        raise UserError(f"cannot read {path} as a .npz of FID statistics ({err}); make one with "
                        f"`run_analysis.py fid FOLDER --save-stats {path.name}`") from None
    missing = [k for k in ("mu", "sigma") if k not in data]
    if missing:
        raise UserError(f"{path} has no {' / '.join(missing)} (it holds {sorted(data) or 'nothing'})"
                        f"; make FID statistics with `run_analysis.py fid FOLDER --save-stats "
                        f"{path.name}` or pytorch-fid's --save-stats")
    mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise UserError(f"{path}: mu must be (D,) and sigma (D, D); got {mu.shape} and "
                        f"{sigma.shape}")
    text = lambda k: str(data[k]) if k in data and data[k].dtype.kind in "US" else None  # noqa: E731
    n = int(data["n"]) if "n" in data and data["n"].dtype.kind in "iu" else None
    return ImageSet(str(path), "npz", n, mu=mu, sigma=sigma, weights=text("weights"),
                    weights_sha256=text("weights_sha256"))


def save_statistics(path, mu, sigma, n: int, weights: str, weights_sha256: str) -> Path:
    """Write ``mu``, ``sigma`` (pytorch-fid's keys) with ``n`` and the weights, atomically."""
    return atomic_write(path, lambda f: np.savez_compressed(
        f, mu=mu, sigma=sigma, n=np.array(int(n)), weights=np.array(weights),
        weights_sha256=np.array(weights_sha256)))


def open_set(source, name: str | None = None) -> ImageSet:
    """Validate one side without running the network: a folder (>= 2 readable image files),
    a ``.npz`` of statistics, or images in memory (a tensor / array / list of paths)."""
    if isinstance(source, ImageSet):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() == ".npz":
            return load_statistics(path)
        if not path.exists():
            raise MissingFileError(f"not found: {path} (pass a folder of images or a .npz of "
                                   f"statistics)")
        if not path.is_dir():
            raise UserError(f"{path} is neither a folder of images nor a .npz of statistics")
        files = _fid.list_images(path)
        _fid.check_images(files)
        return ImageSet(str(path), "folder", len(files), images=files)
    n = _fid._count(source)
    if n is None and isinstance(source, np.ndarray):
        n = source.shape[0] if source.ndim == 4 else 1
    return ImageSet(name or "images", "images", n, images=source)


def _check_count(s: ImageSet) -> None:
    if s.n is not None and s.n < 2:
        raise UserError(f"{s.name} has {s.n} image(s); FID needs at least 2 per side (a "
                        f"covariance): add images")


def compare(real, fake, *, prdc: bool = False, nearest_k: int = PRDC_NEAREST_K, model=None,
            weights=None, batch_size: int = 50, device="cpu", save_stats=None,
            progress: bool | None = False, cache_dir=None, value_range=(-1.0, 1.0)) -> dict:
    """FID between two image sets (:func:`open_set` sources), PRDC with ``prdc`` (``real`` =
    the reference side: precision and density ask how many fakes lie in its neighbourhoods).

    Everything is validated before the network runs. ``save_stats``: a ``.npz`` for the first
    side's statistics (a folder or images; the file must not exist). Returns ``fid``,
    ``weights`` (label), ``weights_sha256``, ``n`` ([real, fake]), ``paths``, the PRDC fields
    and ``nearest_k`` when asked, and ``warnings`` (e.g. statistics made with other weights).
    """
    a, b = open_set(real, "real"), open_set(fake, "generated")
    for s in (a, b):
        _check_count(s)
    if prdc:
        for s in (a, b):
            if s.kind == "npz":
                raise UserError(f"precision / recall / density / coverage need images on both "
                                f"sides (features, not statistics); {s.name} is a .npz: pass "
                                f"its image folder")
        nearest_k = check_nearest_k(nearest_k, a.n or 0, b.n or 0, (a.name, b.name)) \
            if a.n is not None and b.n is not None else int(nearest_k)
    if save_stats is not None:
        save_stats = Path(save_stats)
        if a.kind == "npz":
            raise UserError(f"--save-stats saves the statistics of images; {a.name} already is "
                            f"a .npz")
        if save_stats.suffix.lower() != ".npz":
            raise UserError(f"--save-stats {save_stats}: use a file name ending in .npz")
        if save_stats.exists():
            raise ExistsError(f"{save_stats} exists; choose another --save-stats file or remove it")
    if int(batch_size) < 1:
        raise UserError(f"--batch-size must be >= 1; got {batch_size}")
    needs_net = any(s.kind != "npz" for s in (a, b))
    if needs_net and model is None:
        model = _fid.load_fid_inception(weights, _check_device(device), cache_dir=cache_dir)
    label = _fid.weights_label(model) if needs_net else None
    sha = _fid._weights_hash(model) if needs_net else None
    for s in (a, b):
        if s.kind == "npz" or s.features is not None:   # features of a reused set: computed once
            continue
        s.features = _fid.inception_activations(s.images, model, batch_size, device, value_range,
                                                progress=progress, desc=Path(s.name).name)
        s.n = s.features.shape[0]
        _check_count(s)
        s.mu, s.sigma = _fid.activation_statistics(s.features)
        s.weights, s.weights_sha256 = label, sha
    warnings = []
    shas = {s.weights_sha256 for s in (a, b) if s.weights_sha256}
    if len(shas) > 1:
        warnings.append(f"the two sides were made with different weights ({a.weights} vs "
                        f"{b.weights}): the FID compares more than the images")
    if a.features is not None and b.features is not None:
        value = _fid.fid_from_features(a.features, b.features)
    elif a.features is not None or b.features is not None:   # FID is symmetric
        f, s = (a, b) if a.features is not None else (b, a)
        value = _fid.fid_from_features(f.features, mu=s.mu, sigma=s.sigma)
    else:
        value = _fid.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    out = {"fid": value,
           "weights": label or (a.weights if a.weights == b.weights else [a.weights, b.weights]),
           "weights_sha256": sha or (a.weights_sha256 if a.weights_sha256 == b.weights_sha256
                                     else [a.weights_sha256, b.weights_sha256]),
           "n": [a.n, b.n], "paths": [a.name, b.name]}
    if prdc:
        out.update(prdc_scores(a.features, b.features, nearest_k), nearest_k=nearest_k)
    out["warnings"] = warnings
    if save_stats is not None:
        save_statistics(save_stats, a.mu, a.sigma, a.n, label, sha)
        out["saved_stats"] = str(save_stats)
    return out


def save_set_statistics(source, path, *, model=None, weights=None, batch_size: int = 50,
                        device="cpu", progress: bool | None = False, cache_dir=None) -> dict:
    """Statistics of one image set saved to ``path`` (``.npz``, must not exist)."""
    s = open_set(source)
    if s.kind == "npz":
        raise UserError(f"{s.name} already is a .npz of statistics; pass a folder of images")
    _check_count(s)
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise UserError(f"--save-stats {path}: use a file name ending in .npz")
    if path.exists():
        raise ExistsError(f"{path} exists; choose another --save-stats file or remove it")
    if model is None:
        model = _fid.load_fid_inception(weights, _check_device(device), cache_dir=cache_dir)
    feats = _fid.inception_activations(s.images, model, batch_size, device, progress=progress,
                                       desc=Path(s.name).name)
    mu, sigma = _fid.activation_statistics(feats)
    save_statistics(path, mu, sigma, feats.shape[0], _fid.weights_label(model),
                    _fid._weights_hash(model))
    return {"saved_stats": str(path), "n": [feats.shape[0]], "paths": [s.name],
            "weights": _fid.weights_label(model), "weights_sha256": _fid._weights_hash(model)}


def _check_device(device):
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UserError(f"bad --device {device!r} ({err}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device here; use --device cpu")
    return dev


def fid_label(result: dict) -> str:
    """'N = 16 real / 16 generated, weights: ...' for a :func:`compare` result."""
    n = result.get("n") or []
    sides = " / ".join(f"{v} {k}" for v, k in zip(n, ("real", "generated")))
    return f"N = {sides}; weights: {result.get('weights')}"


def fid_model_or_reason(weights=None, device="cpu", cache_dir=None):
    """The FID Inception (:func:`load_fid_inception`), or the string ``'n/a (...)'`` saying why
    there is none (no weights anywhere), for report cells."""
    try:
        return _fid.load_fid_inception(weights, device, cache_dir=cache_dir)
    except FileNotFoundError as err:
        return f"n/a ({err})"


def fid_note(weights: str, n_generated, n_reference) -> str:
    """The label every table with FID cells carries: weights, N per side, the small-N bias."""
    return (f"FID: Inception weights {weights}; N = {n_generated} generated images per cell, "
            f"reference: {n_reference}. {SMALL_N_NOTE}")
