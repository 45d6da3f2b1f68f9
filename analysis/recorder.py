"""Feature probes: per-block statistics of a generator's features on given layouts.

:class:`FeatureRecorder` hooks every probe point of ``gen.blocks()`` (``fc``, then every residual
block; optionally every :class:`~vasis.models.norms.ConditionalNorm`), or of any network the
suite did not build (``points=``: module names, default its top-level children; ``encode=``:
its input convention, :mod:`analysis.encoders`), and accumulates, per point:

* ``spatial_std``: the spatial std (ddof 0) of each channel over the whole map, averaged over
  channels and images (``spatial_std_channel``: per channel, averaged over images);
* ``class_spatial_std``: the same over each class's pixels (the class map nearest-resized to the
  feature size, as the generator resizes its input), averaged over the images where the class
  has >= 2 pixels at that resolution;
* ``sample_std``: the std across the recorded images (ddof 1) of each channel at each pixel,
  averaged over channels and pixels; ``class_sample_std``: averaged over a class's pixels.
  All images recorded since the last :meth:`~FeatureRecorder.reset` count as samples of one
  layout (repeated generations of the same label map); needs >= 2 images;
* ``fig2_std`` / ``fig2_mean``: the official VASIS Figure-2 statistic (the ``--vis`` probe):
  channel 0 of the first recorded image, resized (nearest) to 256x256, unbiased std / mean;
* ``rms``: root mean square of the features (the scale to judge the stds against).

:func:`probe` runs a generator on one or several layouts with ``samples`` repetitions each and
returns a tidy DataFrame.

Eval mode and BatchNorm: probes run under ``torch.no_grad`` with the generator in eval mode
(its previous mode is restored afterwards). In eval mode the param-free BatchNorm layers use their
*running* statistics; a freshly built generator has running mean 0 and variance 1, so its BN is
the identity and (with spectral norm's un-iterated u, v) feature magnitudes can grow from block to
block - compare stds with ``rms`` or relative to each other, or use :func:`calibrate` first.
``bn='batch'`` instead normalizes with the statistics of each forward batch (running statistics
are left untouched). Spectral-norm'd convs use their stored u, v in eval mode (no power
iteration). The VASIS noise is drawn afresh at every forward, in eval mode too.
"""
from __future__ import annotations

import difflib
import math
from contextlib import contextmanager
from typing import Callable, Iterable, Mapping

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from vasis.config import GeneratorConfig
from vasis.errors import UserError
from vasis.models.norms import ConditionalNorm
from vasis.presets import MODELS

from .surgery import clone_module, padding_of

__all__ = ["FeatureRecorder", "probe", "calibrate", "describe_model", "STATISTICS",
           "probe_points", "valid_points", "call_model"]

STATISTICS = ("spatial_std", "spatial_std_channel", "class_spatial_std", "sample_std",
              "class_sample_std", "fig2_std", "fig2_mean", "rms")
FIG2_SIZE = (256, 256)


def describe_model(gen: nn.Module) -> str:
    """The preset name (``'spade'``, ``'va-oasis'``, ...) whose switches ``gen.cfg`` has, ignoring
    widths, padding and kernel size; ``'custom'`` if none matches."""

    cfg = getattr(gen, "cfg", None)
    if not isinstance(cfg, GeneratorConfig):  # a model the suite did not build: its class
        return type(gen).__name__
    n = cfg.norm
    for name, (arch, norm_kw, _, _) in MODELS.items():
        if arch != cfg.arch:
            continue
        want = dict(modulation="spade", noise="none", position=(), position_channels="all")
        want.update({k: v for k, v in norm_kw.items() if k in want})
        if (n.modulation, n.noise, tuple(n.position)) == (
                want["modulation"], want["noise"], tuple(want["position"])) and (
                not n.position or n.position_channels == want["position_channels"]):
            return name
    return "custom"


class _Point:
    """Accumulators of one probe point."""

    def __init__(self, name: str, kind: str, keep: int):
        self.name, self.kind, self.keep = name, kind, keep
        self.reset()

    def reset(self):
        self.n = 0
        self.spatial = None       # (C,) sum over images of per-channel spatial std
        self.sq = 0.0             # sum over images of mean square
        self.cls_spatial = {}     # class -> [(C,) sum, count]
        self.s_mean = None        # Welford over images, (C, h, w)
        self.s_m2 = None
        self.fig2 = None
        self.classes = None       # (h, w) class map of the first recorded image
        self.features = []

    def add(self, out: torch.Tensor, labels: torch.Tensor | None, sample_stats: bool):
        if self.fig2 is None:
            img = F.interpolate(out[0:1, 0:1].float(), size=FIG2_SIZE, mode="nearest")[0, 0]
            self.fig2 = (float(img.std()), float(img.mean()))
        x = out.detach().double()
        b = x.shape[0]
        std = x.std(dim=(2, 3), unbiased=False).sum(0)
        self.spatial = std if self.spatial is None else self.spatial + std
        self.sq += float((x * x).mean(dim=(1, 2, 3)).sum())
        if labels is not None:
            lab = labels if labels.shape[-2:] == x.shape[-2:] else F.interpolate(
                labels[:, None].float(), size=x.shape[-2:], mode="nearest")[:, 0].long()
            if self.classes is None:
                self.classes = lab[0].cpu()
            for c in torch.unique(lab).tolist():
                m = (lab == c).unsqueeze(1).double()  # (B, 1, h, w)
                cnt = m.sum(dim=(2, 3))  # (B, 1)
                ok = cnt[:, 0] >= 2
                if not bool(ok.any()):
                    continue
                mean = (x * m).sum(dim=(2, 3)) / cnt.clamp(min=1)
                var = (((x - mean[..., None, None]) ** 2) * m).sum(dim=(2, 3)) / cnt.clamp(min=1)
                s = var.sqrt()[ok].sum(0)
                acc = self.cls_spatial.setdefault(c, [torch.zeros_like(s), 0])
                acc[0] += s
                acc[1] += int(ok.sum())
        if sample_stats:
            for i in range(b):  # Welford, one image at a time
                xi = x[i]
                k = self.n + i + 1
                if self.s_mean is None:
                    self.s_mean, self.s_m2 = xi.clone(), torch.zeros_like(xi)
                    continue
                delta = xi - self.s_mean
                self.s_mean += delta / k
                self.s_m2 += delta * (xi - self.s_mean)
        if len(self.features) < self.keep:
            self.features += [f for f in out.detach().cpu()[: self.keep - len(self.features)]]
        self.n += b

    def rows(self, per_channel: bool, names, label: str | None = None) -> list[dict]:
        if self.n == 0:
            return []
        out = []
        label = label or self.name

        def row(stat, value, cls=None, channel=None):
            out.append({"block": label, "kind": self.kind, "statistic": stat,
                        "class": cls, "class_name": names(cls), "channel": channel,
                        "value": float(value)})

        per_ch = (self.spatial / self.n).cpu().numpy()
        row("spatial_std", per_ch.mean())
        if per_channel:
            for ch, v in enumerate(per_ch):
                row("spatial_std_channel", v, channel=ch)
        for c, (s, cnt) in sorted(self.cls_spatial.items()):
            row("class_spatial_std", float((s / cnt).mean()), cls=c)
        if self.s_m2 is not None and self.n >= 2:
            pix = (self.s_m2 / (self.n - 1)).sqrt().mean(0).cpu()  # (h, w)
            row("sample_std", float(pix.mean()))
            if self.classes is not None and self.classes.shape == pix.shape:
                for c in torch.unique(self.classes).tolist():
                    row("class_sample_std", float(pix[self.classes == c].mean()), cls=c)
        row("fig2_std", self.fig2[0])
        row("fig2_mean", self.fig2[1])
        row("rms", math.sqrt(self.sq / self.n))
        return out


class FeatureRecorder:
    """Forward hooks on a generator's probe points that accumulate feature statistics.

    Args:
        gen: any ``nn.Module`` taking a label map (its ``space``, if it has one, names the
            classes).
        points: the module names to probe (as in ``gen.named_modules()``, e.g.
            ``['head_0', 'up_0']``). Default: ``gen.blocks()`` where the model has it (the
            suite's generators: ``fc``, then every residual block), else its top-level children
            (``gen.named_children()``). An unknown name is a :class:`UserError` listing the
            valid ones. A point must output an (N, C, h, w) tensor (a tuple or list output:
            its first such tensor); a module that runs more than once per forward (a shared
            upsampling layer) is recorded per call, named ``up[0]``, ``up[1]``, ...
        encode: maps the integer (N, H, W) label map to the model's input (see
            :mod:`analysis.encoders`: official SPADE / CLADE / OASIS conventions); a tensor is
            passed as ``gen(x)``, a tuple as ``gen(*x)``, a dict as ``gen(**x)``. Default: the
            integer map itself (what the suite's generators take). Its ``space``, if it has
            one, names the classes of a model without ``space``.
        norms: also hook every ConditionalNorm (named like ``up_0.norm_1``; ``kind='norm'``).
        sample_stats: keep the per-pixel running mean/M2 for ``sample_std`` (memory: two
            float64 copies of every probed feature map).
        keep_features: keep the first ``k`` images' outputs of every point (CPU tensors, in
            ``features[name]``), e.g. for :func:`analysis.metrics.variation_profile`.

    The class maps of the per-class statistics always come from the integer layout (resized,
    nearest, to each point's size), whatever ``encode`` makes of it.

    Use as a context manager (hooks are registered on enter and removed on exit, also when the
    forward raises), or call :meth:`attach` / :meth:`remove`. Give the class map of each batch
    with :meth:`run` or by setting ``labels`` before calling ``gen`` yourself; without it the
    per-class statistics are skipped.

    >>> with FeatureRecorder(gen) as rec:
    ...     rec.run(layouts.one_class('sky', dataset=gen), samples=4)
    ...     df = rec.statistics()
    """

    def __init__(self, gen: nn.Module, *, points: Iterable[str] | None = None,
                 encode: Callable | None = None, norms: bool = False,
                 sample_stats: bool = True, keep_features: int = 0):
        self.gen = gen
        self.encode = encode
        self.sample_stats = sample_stats
        self.keep_features = keep_features
        self.labels: torch.Tensor | None = None
        found = [(name, module, "block") for name, module in probe_points(gen, points)]
        if norms:
            seen = {name for name, _, _ in found}
            found += [(name, m, "norm") for name, m in gen.named_modules()
                      if isinstance(m, ConditionalNorm) and name not in seen]
        self._modules = [(name, module) for name, module, _ in found]
        self._kinds = {name: kind for name, _, kind in found}
        # {point: [_Point of its 1st, 2nd, ... call in one forward]}
        self._calls = {name: [_Point(name, kind, keep_features)] for name, _, kind in found}
        self._call_index = dict.fromkeys(self._calls, 0)
        self._handles: list = []

    # -- hooks --------------------------------------------------------------------------
    def attach(self) -> "FeatureRecorder":
        if self._handles:
            return self
        # Each forward of the model starts counting the calls of every point afresh.
        self._handles.append(self.gen.register_forward_pre_hook(self._new_forward))
        for name, module in self._modules:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "FeatureRecorder":
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.remove()

    def _new_forward(self, module, inputs):
        for name in self._call_index:
            self._call_index[name] = 0

    def _hook(self, name):
        def hook(module, inputs, output):
            out = _feature_map(output)
            if out is None:
                shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
                raise UserError(
                    f"probe point {name!r} ({type(module).__name__}) outputs {shape}, not an "
                    f"(N, C, H, W) feature map; choose points whose output is one "
                    f"(points=[...], --points)")
            k = self._call_index[name]
            self._call_index[name] = k + 1
            calls = self._calls[name]
            while len(calls) <= k:
                calls.append(_Point(name, self._kinds[name], self.keep_features))
            labels = self.labels
            if labels is not None and labels.shape[0] != out.shape[0]:
                labels = labels[:1].expand(out.shape[0], -1, -1)
            calls[k].add(out, labels, self.sample_stats)
        return hook

    # -- data ---------------------------------------------------------------------------
    @property
    def points(self) -> dict[str, "_Point"]:
        """{point: accumulator}; a point called k > 1 times per forward is ``name[0]`` ...
        ``name[k-1]``."""
        out = {}
        for name, calls in self._calls.items():
            if len(calls) == 1:
                out[name] = calls[0]
            else:
                out.update((f"{name}[{i}]", p) for i, p in enumerate(calls))
        return out

    def reset(self) -> None:
        """Forget everything recorded (start a new layout)."""
        for name, calls in self._calls.items():
            del calls[1:]
            calls[0].reset()

    @property
    def features(self) -> dict[str, list[torch.Tensor]]:
        """{point: [kept (C, h, w) outputs]} (see ``keep_features``)."""
        return {name: p.features for name, p in self.points.items()}

    def class_map(self, name: str) -> torch.Tensor | None:
        """The (h, w) class map of the first recorded image at point ``name``'s resolution."""
        return self.points[name].classes

    def run(self, labels: torch.Tensor, samples: int = 1, *, batch_size: int | None = None,
            bn: str = "eval", seed: int | None = None, **forward_kwargs) -> None:
        """Generate ``samples`` images of the layout ``labels`` ((H, W) integer map) and record.

        Runs under ``torch.no_grad`` in eval mode (``bn='batch'``: BatchNorm uses each batch's
        statistics), in chunks of ``batch_size`` (default: all samples in one batch), on the
        generator's device. ``seed`` fixes the noise (torch's global RNG is restored after).
        The batch goes through ``encode`` (if given) before ``gen``; ``forward_kwargs`` are
        passed on to ``gen``.
        """
        if labels.dim() != 2:
            raise UserError(f"run() takes one (H, W) layout, got shape {tuple(labels.shape)}; "
                             f"loop over layouts (see probe)")
        if samples < 1:
            raise UserError(f"samples must be >= 1, got {samples}")
        device = _device_of(self.gen)
        labels = labels.long().to(device)
        bs = samples if batch_size is None else max(1, int(batch_size))
        with _probe_mode(self.gen, bn), torch.no_grad(), _seeded(seed, device):
            done = 0
            while done < samples:
                n = min(bs, samples - done)
                batch = labels[None].expand(n, -1, -1).contiguous()
                self.labels = batch
                try:
                    call_model(self.gen, batch, self.encode, **forward_kwargs)
                finally:
                    self.labels = None
                done += n

    def statistics(self, per_channel: bool = False) -> pd.DataFrame:
        """Tidy DataFrame: block, kind, statistic, class, class_name, channel, value."""
        space = label_space_of(self.gen, self.encode)

        def names(c):
            if c is None or space is None:
                return None
            return space.classes[c] if 0 <= c < space.label_nc else ("don't care" if c == space.label_nc else None)

        rows = [r for name, p in self.points.items() for r in p.rows(per_channel, names, name)]
        return pd.DataFrame(rows, columns=["block", "kind", "statistic", "class", "class_name",
                                           "channel", "value"])


def probe_points(model: nn.Module, points: Iterable[str] | None = None) -> list[tuple[str, nn.Module]]:
    """(name, module) of the probe points: ``points`` by name, else ``model.blocks()`` where the
    model has it, else its top-level children. Raises :class:`UserError` for an unknown name
    (listing the valid ones) or a model with nothing to probe."""
    if points is None:
        blocks = getattr(model, "blocks", None)
        found = list(blocks()) if callable(blocks) else list(model.named_children())
        if not found:
            raise UserError(f"{type(model).__name__} has no submodules to probe; pass points=")
        return found
    names = [points] if isinstance(points, str) else list(points)
    if not names:
        raise UserError(f"no probe points given; valid points of {type(model).__name__}: "
                        f"{', '.join(valid_points(model))}")
    named = dict(model.named_modules())
    out = []
    for n in dict.fromkeys(names):
        if not isinstance(n, str) or not n or n not in named:
            close = difflib.get_close_matches(str(n), [k for k in named if k], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(
                f"unknown probe point {n!r}{hint}; valid points of {type(model).__name__}: "
                f"{', '.join(valid_points(model))}, or any dotted submodule name of "
                f"model.named_modules()")
        out.append((n, named[n]))
    return out


def valid_points(model: nn.Module) -> list[str]:
    """The default probe points' names (``blocks()``, else the top-level children)."""
    blocks = getattr(model, "blocks", None)
    return [n for n, _ in (blocks() if callable(blocks) else model.named_children())]


def _feature_map(output) -> torch.Tensor | None:
    if isinstance(output, (tuple, list)):
        output = next((o for o in output if isinstance(o, torch.Tensor) and o.dim() == 4), None)
    return output if isinstance(output, torch.Tensor) and output.dim() == 4 else None


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def call_model(model: nn.Module, labels: torch.Tensor, encode: Callable | None = None,
               **forward_kwargs):
    """``model`` on the integer (N, H, W) ``labels``, through ``encode`` if given: a tensor
    input is ``model(x)``, a tuple ``model(*x)``, a dict ``model(**x)``."""
    x = labels if encode is None else encode(labels)
    if isinstance(x, Mapping):
        return model(**x, **forward_kwargs)
    if isinstance(x, tuple):
        return model(*x, **forward_kwargs)
    return model(x, **forward_kwargs)


def label_space_of(model: nn.Module, encode: Callable | None = None):
    """The model's ``space`` (suite generators), else ``encode``'s (an :class:`analysis.encoders.Encoder`)."""
    space = getattr(model, "space", None)
    return space if space is not None else getattr(encode, "space", None)


@contextmanager
def _probe_mode(gen: nn.Module, bn: str):
    if bn not in ("eval", "batch"):
        raise UserError(f"bn must be 'eval' or 'batch', got {bn!r}")
    was_training = gen.training
    saved = []
    gen.eval()
    if bn == "batch":
        for m in gen.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                saved.append((m, m.momentum, None if m.num_batches_tracked is None
                              else m.num_batches_tracked.clone()))
                m.momentum = 0.0  # running = (1 - 0) * running: untouched
                m.train()
    try:
        yield
    finally:
        for m, momentum, nbt in saved:
            m.momentum = momentum
            if nbt is not None:
                m.num_batches_tracked.copy_(nbt)
        gen.train(was_training)


@contextmanager
def _seeded(seed, device):
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _named_layouts(layouts) -> list[tuple[str, torch.Tensor]]:
    if isinstance(layouts, torch.Tensor):
        if layouts.dim() == 2:
            return [("layout", layouts)]
        if layouts.dim() == 3:
            return [(f"layout{i}", t) for i, t in enumerate(layouts)]
        raise UserError(f"a layout tensor must be (H, W) or (N, H, W), got {tuple(layouts.shape)}")
    if isinstance(layouts, Mapping):
        items = list(layouts.items())
    else:
        items = [(f"layout{i}", t) for i, t in enumerate(layouts)]
    out = []
    for name, t in items:
        t = torch.as_tensor(t)
        if t.dim() != 2:
            raise UserError(f"layout {name!r} must be an (H, W) map, got shape {tuple(t.shape)}")
        out.append((str(name), t))
    if not out:
        raise UserError("no layouts given")
    return out


def probe(gen: nn.Module, layouts, samples: int = 4, *, model: str | None = None,
          points: Iterable[str] | None = None, encode: Callable | None = None,
          norms: bool = False, per_channel: bool = False, batch_size: int | None = None,
          bn: str = "eval", seed: int | None = 0, **forward_kwargs) -> pd.DataFrame:
    """Feature statistics of ``gen`` on each layout, one tidy row per
    model x layout x point x statistic [x class | channel].

    ``layouts``: an (H, W) map (named ``'layout'``), an (N, H, W) batch of N layouts, a list, or
    a ``{name: (H, W) map}`` dict. Each layout is generated ``samples`` times (>= 2 for
    ``sample_std``). ``model`` defaults to :func:`describe_model`. ``seed`` (default 0) makes
    the noise reproducible; each layout starts from the same seed. ``points`` and ``encode``
    make it work on any network (see :class:`FeatureRecorder`: default points ``blocks()`` or
    the top-level children; ``encode`` e.g. ``analysis.encoders.spade('cityscapes')``). See
    :meth:`FeatureRecorder.run` for the rest.

    Columns: model, dataset, layout, padding, kernel (norm convs), block_kernel (residual
    convs), samples, block, kind, statistic, class,
    class_name, channel, value. Statistics: :data:`STATISTICS` (``spatial_std_channel`` only
    with ``per_channel``; ``sample_std``/``class_sample_std`` only with ``samples >= 2``).
    For a model the suite did not build: ``dataset`` is ``encode``'s label space (if it has
    one), ``padding`` is :func:`analysis.surgery.padding_of` (``'mixed'`` when its convs
    disagree), ``kernel`` and ``block_kernel`` are empty (no suite config says which convs
    are which).
    """
    cfg = getattr(gen, "cfg", None)
    suite = isinstance(cfg, GeneratorConfig)
    model = model or describe_model(gen)
    space = label_space_of(gen, encode)
    frames = []
    with FeatureRecorder(gen, points=points, encode=encode, norms=norms,
                         sample_stats=samples >= 2) as rec:
        for name, lay in _named_layouts(layouts):
            rec.reset()
            rec.run(lay, samples, batch_size=batch_size, bn=bn, seed=seed, **forward_kwargs)
            df = rec.statistics(per_channel=per_channel)
            df.insert(0, "samples", samples)
            df.insert(0, "block_kernel", cfg.block_kernel_size if suite else None)
            df.insert(0, "kernel", cfg.norm.kernel_size if suite else None)
            df.insert(0, "padding", padding_of(gen))
            df.insert(0, "layout", name)
            df.insert(0, "dataset", cfg.dataset if suite else getattr(space, "name", None))
            df.insert(0, "model", model)
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def calibrate(gen: nn.Module, labels: torch.Tensor | Iterable[torch.Tensor], steps: int = 20,
              *, encode: Callable | None = None, **forward_kwargs) -> nn.Module:
    """A copy of ``gen`` with settled spectral-norm vectors and BatchNorm running statistics.

    Runs ``steps`` forward passes in train mode under ``torch.no_grad`` on ``labels`` ((N, H, W)
    batch, or an iterable of batches, cycled): each pass does one spectral-norm power iteration,
    and the BN running statistics become the cumulative average over the passes. Useful before
    probing a freshly built (untrained) generator in eval mode. ``gen`` is not modified.
    ``encode`` maps each integer batch to the model's input, as in :class:`FeatureRecorder`.
    """
    new = clone_module(gen)
    batches = [labels] if isinstance(labels, torch.Tensor) else list(labels)
    if not batches:
        raise UserError("no label batches given")
    device = _device_of(new)
    for m in new.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    new.train()
    with torch.no_grad():
        for i in range(steps):
            b = batches[i % len(batches)]
            b = b.long().to(device)
            call_model(new, b if b.dim() == 3 else b[None], encode, **forward_kwargs)
    for m in new.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    return new.eval()
