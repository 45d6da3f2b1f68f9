"""FID with pytorch-fid's Inception network (the FID weights ``pt_inception-2015-12-05``).

The network (:class:`FIDInceptionV3`) is written here, module for module, with the parameter
names of the published weights file, so that file loads strictly; pytorch-fid itself is not
needed. It differs from torchvision's Inception v3 where the TensorFlow FID graph does: the
3x3 average pools of the A, C and first E blocks leave padded zeros out of the average, and
the last E block pools with a max. Protocol (reference.md section 5):

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
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..atomic import atomic_write
from ..loading import load_torch_file
from ..errors import UserError, MissingFileError

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   + FID_WEIGHTS_NAME)
FID_DIMS = 2048
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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
    try:
        from scipy.linalg import eigh as _sp_eigh
        eig = _sp_eigh(m, eigvals_only=True, driver="evr", check_finite=False)
    except Exception:  # pragma: no cover - scipy missing or driver unavailable
        eig = np.linalg.eigvalsh(m)
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


# --------------------------------------------------------------------------------------------
# The FID Inception network
# --------------------------------------------------------------------------------------------

class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3) -> ReLU; keys ``conv.*``, ``bn.*``."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_tf(x):
    # TensorFlow's 3x3 'SAME' average pool: padded zeros are not counted
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (TF average pool)."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool_tf(x)),
        ], 1)


class InceptionB(nn.Module):
    """35 -> 17 grid reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class FIDInceptionC(nn.Module):
    """17x17 block with factorized 7x7 convolutions (TF average pool)."""

    def __init__(self, cin: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_tf(x))], 1)


class InceptionD(nn.Module):
    """17 -> 8 grid reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                          F.max_pool2d(x, 3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 convolutions; ``pool='avg'`` (TF average pool, Mixed_7b)
    or ``'max'`` (3x3 max pool, Mixed_7c: what the TF FID graph does there)."""

    def __init__(self, cin: int, pool: str = "avg"):
        super().__init__()
        if pool not in ("avg", "max"):
            raise UserError(f"pool must be 'avg' or 'max'; got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        s = self.branch3x3_1(x)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg_pool_tf(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(s), self.branch3x3_2b(s),
            self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception v3; ``forward`` maps (N, 3, H, W) images in [0, 1] to (N, 2048)
    pool3 features. Parameter names match ``pt_inception-2015-12-05-6726825d.pth`` (including
    the unused 1008-way ``fc``), so ``load_state_dict(torch.load(file), strict=True)`` works.
    """

    STAGES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
              "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
              "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

    def __init__(self, resize_input: bool = True, normalize_input: bool = True):
        super().__init__()
        self.resize_input = resize_input
        self.normalize_input = normalize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)  # the classifier of the weights file; unused for FID
        self.weights_sha256: str | None = None
        for p in self.parameters():
            p.requires_grad_(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise UserError(f"expected (N, 3, H, W) images; got shape {tuple(x.shape)}")
        x = x.float()
        if self.resize_input:
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        if self.normalize_input:
            x = 2.0 * x - 1.0
        return x

    def features(self, x: torch.Tensor, stop: str = "Mixed_7c") -> torch.Tensor:
        """Feature map after stage ``stop`` (one of :attr:`STAGES`) of preprocessed images."""
        if stop not in self.STAGES:
            raise UserError(f"unknown stage {stop!r}; choose from {self.STAGES}")
        x = self.preprocess(x)
        for name in self.STAGES:
            x = getattr(self, name)(x)
            if name == stop:
                break
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


def default_weights_path() -> Path:
    """Where the FID weights are looked up: torch's hub cache, as pytorch-fid downloads them."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_NAME


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def state_dict_sha256(module: nn.Module) -> str:
    """Hash of a module's parameters and buffers (for networks that did not come from a file)."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_fid_inception(weights=None, device="cpu") -> FIDInceptionV3:
    """The FID Inception network in eval mode with the FID weights loaded strictly.

    ``weights``: a path to ``pt_inception-2015-12-05-6726825d.pth`` (or a state dict); default
    :func:`default_weights_path` (``torch.hub.get_dir()/checkpoints``). A missing file raises a
    :class:`FileNotFoundError` that says where to put it and where it is published.
    """
    net = FIDInceptionV3()
    if isinstance(weights, dict):
        state, digest = weights, None
    else:
        path = Path(weights) if weights is not None else default_weights_path()
        if not path.is_file():
            raise MissingFileError(
                f"FID Inception weights not found at {path}. Download {FID_WEIGHTS_NAME} "
                f"(published by pytorch-fid at {FID_WEIGHTS_URL}) and put it at "
                f"{default_weights_path()} (torch.hub.get_dir()/checkpoints), or pass its path "
                f"as weights=...")
        state = load_torch_file(path, what="FID Inception weights file")
        digest = file_sha256(path)
    net.load_state_dict(state, strict=True)
    net.weights_sha256 = digest or state_dict_sha256(net)
    return net.eval().to(device)


def _weights_hash(model: nn.Module) -> str:
    digest = getattr(model, "weights_sha256", None)
    return digest if digest else state_dict_sha256(model)


# --------------------------------------------------------------------------------------------
# Images -> activations
# --------------------------------------------------------------------------------------------

def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return files


def read_image(path, size=None) -> np.ndarray:
    """An image file as (H, W, 3) uint8, downsampled bicubically (PIL) to ``size`` = (H, W)."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size is not None and (im.height, im.width) != tuple(size):
            im = im.resize((int(size[1]), int(size[0])), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8).copy()


def resize_uint8(image: np.ndarray, size) -> np.ndarray:
    """(H, W, 3) uint8 -> ``size`` (H, W) with PIL's bicubic filter (identity if same size)."""
    if size is None or image.shape[:2] == tuple(size):
        return image
    from PIL import Image
    return np.asarray(Image.fromarray(image).resize((int(size[1]), int(size[0])), Image.BICUBIC))


def to_uint8(images: torch.Tensor, value_range=(-1.0, 1.0)) -> np.ndarray:
    """(N, 3, H, W) float images in ``value_range`` -> (N, H, W, 3) uint8 (rounded, as saved PNGs)."""
    lo, hi = value_range
    x = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    return (x * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _unit_batches(source, batch_size: int, value_range, size, quantize: bool):
    """Yield (n, 3, H, W) float32 batches in [0, 1] from the supported sources."""
    def from_uint8(arrs):
        a = np.stack([resize_uint8(x, size) for x in arrs])
        return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0

    if isinstance(source, (str, os.PathLike)):
        source = list_images(source)
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], (str, os.PathLike)):
        for i in range(0, len(source), batch_size):
            yield from_uint8([read_image(p, size) for p in source[i:i + batch_size]])
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


@torch.no_grad()
def inception_activations(images, model: nn.Module, batch_size: int = 50, device=None,
                          value_range=(-1.0, 1.0), size=None, quantize: bool = True) -> np.ndarray:
    """(N, 2048) float32 pool3 activations of ``images``, ``batch_size`` at a time (every image
    counts, including a last partial batch).

    ``images``: a folder (all image files below it, sorted), a list of image paths, an
    (N, 3, H, W) tensor in ``value_range`` (default [-1, 1], the generators' output), an
    iterable of such tensors or of suite dataset batches (``{'image': ...}``), or uint8
    (N, H, W, 3) arrays. Tensors are rounded to 8 bits first (``quantize``), as if saved as PNG;
    ``size`` (H, W) downsamples bicubically (PIL) before the network.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    out = []
    for batch in _unit_batches(images, batch_size, value_range, size, quantize):
        out.append(model(batch.to(device)).float().cpu().numpy())
    if not out:
        raise UserError("no images")
    return np.concatenate(out, 0)


# --------------------------------------------------------------------------------------------
# Real images and cached reference statistics
# --------------------------------------------------------------------------------------------

def _dataset_key(dataset) -> str:
    from ..data.scenes import SceneDataset
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
    from ..data.scenes import SceneDataset
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


def default_cache_dir() -> Path:
    base = os.environ.get("VASIS_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "vasis") / "fid"


def _atomic_save(path: Path, **arrays) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _resolve_dataset(dataset, split, dataroot, n, seed):
    if isinstance(dataset, str):
        from ..data import build_dataset
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
    mu1, s1 = activation_statistics(
        inception_activations(generated, model, batch_size, device, value_range))
    if isinstance(reference, tuple) and len(reference) == 2 and isinstance(reference[0], np.ndarray):
        mu2, s2 = reference
    else:
        mu2, s2 = activation_statistics(
            inception_activations(reference, model, batch_size, device, value_range))
    return frechet_distance(mu1, s1, mu2, s2)


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
