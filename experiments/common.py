"""Shared core of the experiment runners: result store, models, metrics, tables, figures.

* :class:`ResultStore` - ``OUT/results.json``: every finished cell, keyed by
  (experiment, model, setting, metric) and its scope (dataset, data folder, scale / quick, seed,
  evaluation N, the given checkpoint's sha256, segmenter, FID weights), rewritten atomically
  after each computed group of cells, so an interrupted run recomputes only the cells that are
  missing and a run with other inputs never shows a stale cell.
* :class:`Context` - what a runner needs: the generators (``--checkpoint MODEL=PATH``, or a short
  suite training run on the built-in scenes data in ``RUNS/``, reused when present), the
  evaluation label maps, the scenes segmenter (trained once, cached in ``RUNS/``), the FID
  Inception (or the reason it is missing), and :meth:`Context.quality` (FID-t, FID-v,
  precision / recall / density / coverage, mIoU, Acc, intra-class variation of one generator).
* :func:`write_table` - ``OUT/<name>.csv`` (tidy cells) and ``OUT/<name>.md`` (a wide table,
  written by :func:`analysis.report.md_table`, the main job's table writer).

Shared with the main job rather than repeated here: the train-or-reuse of the short runs
(:func:`analysis.runs.train_or_reuse`), the seeded generation
(:func:`vasis.train.generate.sample_images`), the figure helpers and palette
(:mod:`analysis.figures`), the tiny widths (:data:`analysis.study.TINY`).

``MODEL=PATH``: ``MODEL`` is the row key the runner prints (a preset such as ``spade`` or
``va-oasis``; for the Table 4/5 variants ``va-spade:noise``, ``va-clade:plus``, ...). ``PATH`` is
a suite training run (its folder or a ``checkpoints/step_*.pt`` file; rebuilt from the run's
own settings) or an official generator checkpoint (``latest_net_G.pth``, ``*_G.pth``,
``*_EMA.pth``; read with :func:`vasis.load_official` as the preset before the ``:`` with the
row's switches, on ``--dataset``), told apart by content
(:func:`vasis.train.load.generator_from_content`). Every given file is read once, up front, with
``weights_only=True`` (full unpickling only with ``trust=True`` / ``--trust-checkpoint``).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch

from analysis.report import md_table
from analysis.runs import train_or_reuse
from analysis.study import TINY, TINY_DISCRIMINATOR
from vasis.atomic import atomic_write_text
from vasis.complexity import complexity
from vasis.data.folders import canonical_name
from vasis.data import build_dataset
from vasis.errors import UserError
from vasis.labels import label_space
from vasis.loading import load_torch_file
from vasis.metrics import (TinySceneSegmenter, default_weights_path, evaluate_segmentation,
                           load_fid_inception, load_segmenter, train_scene_segmenter,
                           weights_label)
from vasis.metrics.density_coverage import PRDC_FIELDS, min_images
from vasis.metrics.fid import file_sha256 as fid_file_sha256
from vasis.metrics.fid import fid_from_features, inception_activations, reference_statistics
from vasis.metrics.image_sets import ImageSet, compare, open_set
from vasis.metrics.intra_class import intra_class_variation
from vasis.metrics.image_sets import fid_note as fid_note_text
from vasis.presets import DATASETS
from vasis.train import RunSettings
from vasis.train.generate import EncodedBatches, load_generator, sample_images
from vasis.train.load import generator_from_content, read_generator_file

NA_FID = "n/a (weights missing: {path})"
MARKER = "__metrics__"  # metric of the cell listing a group's metric names (compute(None))
GENERATE_BATCH = 8      # label maps per generator call (the samples' noise is drawn per batch)


# ------------------------------------------------------------------------------ result store
def scope_id(scope: dict) -> str:
    """A short stable id of a cell's scope (everything besides its names that determines it)."""
    text = json.dumps(scope, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ResultStore:
    """Finished cells of all experiments in one JSON file (``OUT/results.json``).

    ``compute(experiment, model, setting, metrics, fn)`` returns the stored values and calls
    ``fn()`` (which returns ``{metric: value}``) only when one of ``metrics`` is missing; only the
    missing cells are then stored. ``computed`` counts the calls of ``fn``.

    Each cell is also keyed by its *scope*: ``scope(model, setting)`` returns a dict of
    everything else that determines the cell (dataset, data folder, scale and quick or not,
    seed, evaluation N, the checkpoint's sha256, segmenter, FID weights; see
    :meth:`Context.cell_scope`). A cell of another scope is never reused (it stays in the file,
    so switching back finds it again). Cells written without a scope (older files) are dropped.
    """

    def __init__(self, path, scope: Callable[[str, str], dict] | None = None):
        self.path = Path(path)
        self.scope = scope or (lambda model, setting: {})
        self.cells: dict[tuple[str, str, str, str, str], object] = {}
        self.scopes: dict[str, dict] = {}
        self._ids: dict[tuple[str, str], str] = {}
        self.computed = 0
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                rows = [(c["experiment"], c["model"], c["setting"], c["metric"], c["scope"],
                         c["value"]) for c in data.get("cells", []) if "scope" in c]
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise UserError(f"{self.path} is not a results file of the experiment runners "
                                f"({err}); move it away or choose another --out") from None
            for *key, value in rows:
                self.cells[tuple(key)] = value
            self.scopes = dict(data.get("scopes", {}))

    def _sid(self, model: str, setting: str) -> str:
        key = (model, setting)
        if key not in self._ids:
            scope = self.scope(model, setting)
            self._ids[key] = sid = scope_id(scope)
            self.scopes[sid] = scope
        return self._ids[key]

    def _key(self, experiment, model, setting, metric) -> tuple:
        return (experiment, model, setting, metric, self._sid(model, setting))

    def has(self, *key) -> bool:
        return self._key(*key) in self.cells

    def get(self, *key):
        return self.cells[self._key(*key)]

    def _save(self) -> None:
        cells = [dict(experiment=k[0], model=k[1], setting=k[2], metric=k[3], scope=k[4], value=v)
                 for k, v in self.cells.items()]
        used = {k[4] for k in self.cells}
        scopes = {sid: sc for sid, sc in self.scopes.items() if sid in used}
        atomic_write_text(self.path, json.dumps({"cells": cells, "scopes": scopes}, indent=1,
                                                default=str))

    def put(self, experiment, model, setting, metric, value) -> None:
        self.cells[self._key(experiment, model, setting, metric)] = _plain(value)
        self._save()

    def compute(self, experiment: str, model: str, setting: str, metrics: Iterable[str] | None,
                fn: Callable[[], dict]) -> dict:
        """``metrics=None``: whatever ``fn`` returns (their names are kept in a marker cell)."""
        if metrics is None:
            marker = self._key(experiment, model, setting, MARKER)
            if marker in self.cells:
                metrics = [m for m in str(self.cells[marker]).split("\x1f") if m]
                if all(self.has(experiment, model, setting, m) for m in metrics):
                    return {m: self.get(experiment, model, setting, m) for m in metrics}
            self.computed += 1
            values = fn()
            for m, v in values.items():
                self.cells[self._key(experiment, model, setting, m)] = _plain(v)
            self.cells[marker] = "\x1f".join(values)
            self._save()
            return {m: self.get(experiment, model, setting, m) for m in values}
        metrics = list(metrics)
        missing = [m for m in metrics if not self.has(experiment, model, setting, m)]
        if missing:
            self.computed += 1
            values = fn()
            for m in missing:
                self.cells[self._key(experiment, model, setting, m)] = _plain(values[m])
            self._save()
        return {m: self.get(experiment, model, setting, m) for m in metrics}

    def frame(self, experiment: str) -> pd.DataFrame:
        """The cells of ``experiment`` in the current scope."""
        rows = [dict(experiment=k[0], model=k[1], setting=k[2], metric=k[3], value=v)
                for k, v in self.cells.items()
                if k[0] == experiment and k[3] != MARKER and k[4] == self._sid(k[1], k[2])]
        return pd.DataFrame(rows, columns=["experiment", "model", "setting", "metric", "value"])


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# ------------------------------------------------------------------------------ scales
@dataclass(frozen=True)
class Scale:
    """Sizes of the CPU runs: training, evaluation and segmenter. ``name`` names the runs'
    folder (``RUNS/<dataset>-<name>[-seed<k>]``); ``ckpt_every`` (default: ``iters``) and
    ``keep`` set which checkpoints a run keeps (the trained study's learning curves read them)."""

    name: str = "cpu"
    size: tuple[int, int] = (64, 64)
    generator: dict = field(default_factory=lambda: {"ngf": 8, "hidden": 16})
    discriminator: dict = field(default_factory=lambda: {"ndf": 8, "num_d": 1})
    iters: int = 30
    batch_size: int = 4
    n_train: int = 64
    eval_images: int = 16
    samples: int = 2              # samples per layout for figures / diversity
    seg_steps: int = 200
    seg_images: int = 200
    ckpt_every: int | None = None
    keep: int = 1


DEFAULT = Scale()
QUICK = Scale(name="quick", generator=dict(TINY), discriminator=dict(TINY_DISCRIMINATOR),
              iters=1, batch_size=2, n_train=4, eval_images=4, samples=2, seg_steps=20,
              seg_images=16)


# ------------------------------------------------------------------------------ helpers
def parse_checkpoints(items: Iterable[str] | None) -> dict[str, str]:
    """``['spade=runs/spade', ...]`` -> ``{'spade': 'runs/spade'}``."""
    out = {}
    for item in items or ():
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise UserError(f"--checkpoint takes MODEL=PATH, got {item!r}")
        out[key.strip()] = path.strip()
    return out


def _slug(model: str, overrides: dict) -> str:
    if not overrides:
        return model
    text = json.dumps(overrides, sort_keys=True, default=list)
    return f"{model}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path) -> str:
    """sha256 of a file's content (cached per path, size and modification time)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = fid_file_sha256(path)
    return _HASHES[key]


@dataclass(frozen=True)
class GivenCheckpoint:
    """A ``--checkpoint MODEL=PATH``, read once up front: the file read and its content."""

    spec: str
    file: Path
    sha256: str
    content: object = field(repr=False, compare=False)


def read_checkpoints(specs: dict[str, str], trust: bool = False) -> dict[str, GivenCheckpoint]:
    """Every given checkpoint read (``weights_only=True`` unless ``trust``) before anything is
    computed or written, so a bad file stops the run with one line and nothing written."""
    out = {}
    for key, spec in specs.items():
        try:
            file, content = read_generator_file(spec, trust=trust, trust_hint="--trust-checkpoint")
        except UserError as err:  # name the row the file was given for
            raise type(err)(f"--checkpoint {key}={spec}: {err}") from None
        out[key] = GivenCheckpoint(spec, Path(file), file_sha256(file), content)
    return out


# ------------------------------------------------------------------------------ the context
class Context:
    """Models, data and metrics of one runner invocation (see the module docstring)."""

    def __init__(self, out, *, dataset: str = "scenes", dataroot=None, checkpoints=None,
                 quick: bool = False, runs=None, fid_weights=None, segmenter=None,
                 device: str = "cpu", seed: int = 0, log: Callable[[str], None] | None = print,
                 trust: bool = False, scale: Scale | None = None, progress: bool = False,
                 trust_segmenter: bool = False):
        # Nothing is created here: the output folder appears with the first finished cell.
        self.out = Path(out)
        self.runs = Path(runs) if runs is not None else self.out / "runs"
        self.dataset = dataset
        self.dataroot = dataroot
        self.checkpoints = dict(checkpoints or {})
        self.given = read_checkpoints(self.checkpoints, trust=trust)
        self.quick = quick
        self.scale = scale or (QUICK if quick else DEFAULT)
        self.progress = progress
        self.fid_weights = fid_weights
        self.segmenter_spec = segmenter
        self.trust_segmenter = trust_segmenter
        self.device = device
        self.seed = seed
        self.log = log or (lambda s: None)
        self.store = ResultStore(self.out / "results.json", scope=self.cell_scope)
        self._gens: dict = {}
        self._labels: dict = {}
        self._seg = None
        self._fid = None
        self._real: dict = {}        # size -> real images of the evaluation maps
        self._real_sets: dict = {}   # size -> their FID features (computed once)
        if segmenter is not None:   # a bad file stops the run before anything is written
            self.segmenter()

    def cell_scope(self, model: str, setting: str) -> dict:
        """Everything besides (experiment, model, setting, metric) that determines a cell: a
        cell computed under another scope is never shown (see :class:`ResultStore`)."""
        def file_id(path):
            if path is None:
                return None
            return file_sha256(path) if os.path.isfile(path) else f"{os.path.abspath(path)} (absent)"

        given = {k: self.given[k].sha256 for k in (model, f"{model}:{setting}") if k in self.given}
        segmenter = self.segmenter_spec
        if isinstance(segmenter, (str, os.PathLike)) and os.path.isfile(segmenter):
            segmenter = file_sha256(segmenter)
        return dict(dataset=self.dataset,
                    dataroot=os.path.abspath(self.dataroot) if self.dataroot else None,
                    quick=self.quick, scale=asdict(self.scale), n=self.scale.eval_images,
                    seed=self.seed, checkpoints=given, segmenter=segmenter,
                    fid_weights=file_id(self.fid_weights or default_weights_path()))

    # -------------------------------------------------------------------- generators
    def train_size(self) -> tuple[int, int]:
        if self.dataset == "scenes":
            return self.scale.size
        p = DATASETS[canonical_name(self.dataset)]
        h = self.scale.size[0]
        return (h, int(round(h * p.width / p.height)))

    def generator(self, key: str, model: str | None = None, overrides: dict | None = None):
        """The generator of row ``key`` (preset ``model`` with ``overrides``), in eval mode."""
        if key in self._gens:
            return self._gens[key]
        model = model or key.split(":")[0]
        overrides = dict(overrides or {})
        given = self.given.get(key)
        if given is not None:
            opened = generator_from_content(given.file, given.content, model, self.dataset,
                                            device=self.device, **overrides)
            gen = opened.generator
            self.log(f"[{key}] {opened.description}")
        else:
            gen = self._train(model, overrides)
        gen.eval()
        self._gens[key] = gen
        return gen

    def run_settings(self, model: str, overrides: dict | None = None) -> RunSettings:
        """The settings of the short training run of ``model`` with ``overrides``."""
        s = self.scale
        return RunSettings(
            model, self.dataset, dataroot=self.dataroot, size=self.train_size(),
            generator={**s.generator, **(overrides or {})}, discriminator=dict(s.discriminator),
            recipe={"batch_size": s.batch_size, "use_vgg": False, "ema_refresh_batches": 1},
            n_train=s.n_train if self.dataset == "scenes" else None, iters=s.iters,
            seed=self.seed, log_every=max(1, min(50, s.iters)), sample_every=0,
            ckpt_every=s.ckpt_every or s.iters, keep=s.keep, tensorboard=False)

    def run_dir(self, model: str, overrides: dict | None = None) -> Path:
        """The folder of that run. Its name holds everything the run depends on besides the
        scale, so a run of another seed or data folder is never taken for this one."""
        tag = self.scale.name
        if self.seed:
            tag += f"-seed{self.seed}"
        if self.dataroot:
            tag += "-" + hashlib.sha1(os.path.abspath(self.dataroot).encode()).hexdigest()[:8]
        return self.runs / f"{self.dataset}-{tag}" / _slug(model, dict(overrides or {}))

    def _train(self, model: str, overrides: dict):
        run_dir = self.run_dir(model, overrides)
        info = train_or_reuse(self.run_settings(model, overrides), run_dir,
                              progress=self.progress, device=self.device)
        if info["status"] != "reused":
            self.log(f"[{model}{' ' + str(overrides) if overrides else ''}] {info['status']} to "
                     f"step {info['step']} in {info['seconds']:.1f} s -> {run_dir}")
        return load_generator(run_dir, self.device)[0]

    # -------------------------------------------------------------------- data
    def eval_data(self, size: tuple[int, int]):
        """(labels (N,H,W) int64, instance or None) of the first validation label maps."""
        size = tuple(int(v) for v in size)
        if size not in self._labels:
            n = self.scale.eval_images
            ds = build_dataset(self.dataset, self.dataroot, "val", size, train=False,
                               n=n if self.dataroot is None else None)
            items = [ds[i] for i in range(min(n, len(ds)))]
            labels = torch.stack([it["label"] for it in items])
            inst = None
            if all(it.get("instance") is not None for it in items):
                inst = torch.stack([it["instance"] for it in items])
            self._labels[size] = (labels, inst)
            self._real[size] = torch.stack([it["image"] for it in items])   # for PRDC
        return self._labels[size]

    def real_images(self, size: tuple[int, int]) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1]: the real images of :meth:`eval_data`'s label maps."""
        self.eval_data(size)
        return self._real[tuple(int(v) for v in size)]

    def generate(self, gen, labels: torch.Tensor, instance=None, seed: int = 0,
                 batch_size: int = GENERATE_BATCH) -> torch.Tensor:
        """Images (N, 3, H, W) in [-1, 1] of ``labels``: sample 0 of
        :func:`vasis.train.generate.sample_images` (its seed formula)."""
        batches = EncodedBatches(gen, labels, instance, batch_size, self.device)
        return sample_images(gen, batches, 1, seed)[0].float().cpu()

    # -------------------------------------------------------------------- metrics
    def fid_model(self):
        """The FID Inception, or a string saying why it is not available."""
        if self._fid is None:
            try:
                self._fid = load_fid_inception(self.fid_weights, self.device)
            except FileNotFoundError:
                path = self.fid_weights or default_weights_path()
                self._fid = NA_FID.format(path=path)
        return self._fid

    def prdc(self, fake: ImageSet, size) -> dict:
        """Precision / recall / density / coverage (k = 5) of ``fake`` against the real images
        of the same evaluation maps (equal N), on the FID features (kept on ``fake``)."""
        net = self.fid_model()
        if isinstance(net, str):
            return {f: net for f in PRDC_FIELDS}
        if fake.n < min_images(5):
            return {f: f"n/a (k = 5 needs {min_images(5)} images)" for f in PRDC_FIELDS}
        size = tuple(int(v) for v in size)
        real = self._real_sets.setdefault(size, open_set(self._real[size], "real"))
        r = compare(real, fake, prdc=True, model=net, device=self.device)
        return {f: r[f] for f in PRDC_FIELDS}

    def fid_value(self, fake: ImageSet, split: str, net) -> float:
        """FID-t / FID-v of ``fake`` against the split's reference statistics (cached on disk);
        the fake side's features are computed once and kept on ``fake`` for PRDC."""
        if fake.features is None:
            fake.features = inception_activations(fake.images, net, device=self.device)
        # built-in scenes: as many reference scenes as generated images (equal N)
        kw = {"dataroot": self.dataroot} if self.dataroot else {"n": fake.n}
        mu, sigma = reference_statistics(self.dataset, split, tuple(fake.images.shape[-2:]),
                                         model=net, device=self.device, **kw)
        return float(fid_from_features(fake.features, mu=mu, sigma=sigma))

    def fid_note(self) -> str:
        """Weights and N of the FID cells, and the small-N bias (every table with FID)."""
        net = self.fid_model()
        n = self.scale.eval_images
        ref = (f"the first {n} scenes of the split (N = {n})" if self.dataroot is None
               else "all images of the split")
        return fid_note_text(net if isinstance(net, str) else weights_label(net), n, ref) + (
            " Cells kept in results.json keep the weights they were computed with.")

    def segmenter(self):
        """A segmenter for ``self.dataset``, or a string saying why there is none."""
        if self._seg is not None:
            return self._seg
        if self.segmenter_spec:
            self._seg = load_segmenter(self.segmenter_spec, device=self.device,
                                       trust=self.trust_segmenter)
        elif self.dataset != "scenes":
            self._seg = (f"n/a (no segmenter for {self.dataset}: pass --segmenter, "
                         f"see docs/evaluation.md)")
        else:
            s = self.scale
            path = self.runs / f"segmenter-{s.size[0]}x{s.size[1]}-{s.seg_steps}.pt"
            net = TinySceneSegmenter()
            if path.is_file():
                net.load_state_dict(load_torch_file(path, what="cached scenes segmenter"))
                net.eval()
            else:
                t = time.perf_counter()
                net = train_scene_segmenter(n_images=s.seg_images, size=s.size,
                                            steps=s.seg_steps, seed=self.seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                torch.save(net.state_dict(), tmp)
                tmp.replace(path)
                self.log(f"scenes segmenter: {s.seg_steps} steps in "
                         f"{time.perf_counter() - t:.1f} s -> {path}")
            self._seg = load_segmenter(net.to(self.device), device=self.device)
        return self._seg

    def quality(self, gen, metrics: Iterable[str], fake: torch.Tensor | None = None) -> dict:
        """``metrics`` of ``gen`` on the validation label maps: any of FID-t, FID-v, precision,
        recall, density, coverage (vs the real images of the same maps), mIoU, Acc, ICV-one
        (mean per-image per-class colour std, 0..255) and ICV-all (pooled). ``fake``: the
        images :meth:`generate` gives for these maps, where the caller has them already."""
        metrics = list(metrics)
        size = (gen.cfg.height, gen.cfg.width)
        labels, inst = self.eval_data(size)
        if fake is None:
            fake = self.generate(gen, labels, inst, seed=self.seed)
        fake_set = open_set(fake, "generated")    # its FID features are computed once
        out = {}
        if {"FID-t", "FID-v"} & set(metrics):
            net = self.fid_model()
            for m, split in (("FID-t", "train"), ("FID-v", "val")):
                if m in metrics:
                    out[m] = net if isinstance(net, str) else self.fid_value(fake_set, split, net)
        if set(PRDC_FIELDS) & set(metrics):
            out.update(self.prdc(fake_set, size))
        if {"mIoU", "Acc"} & set(metrics):
            seg = self.segmenter()
            if isinstance(seg, str):
                out.update({"mIoU": seg, "Acc": seg})
            else:
                space = label_space(gen.cfg.dataset)
                r = evaluate_segmentation(seg, fake, labels, num_classes=space.label_nc)
                out["mIoU"] = 100.0 * float(r["miou"])
                out["Acc"] = 100.0 * float(r["pixel_accuracy"])
        if {"ICV-one", "ICV-all"} & set(metrics):
            out.update(icv(fake, labels))
        return {m: out[m] for m in metrics}

    def complexity(self, model: str, dataset: str, overrides: dict | None = None) -> dict:
        """Generator / discriminator params (M) and GMac at ``dataset``'s preset resolution
        (meta device)."""
        r = complexity(model, dataset, **(overrides or {}))
        return {"G params (M)": r["generator_params"] / 1e6,
                "G GMac": r["generator_macs"] / 1e9,
                "D params (M)": r["discriminator_params"] / 1e6,
                "D GMac": r["discriminator_macs"] / 1e9}


def icv(images: torch.Tensor, labels: torch.Tensor) -> dict:
    """ICV-one / ICV-all (the VASIS intra-class variation, 0..255) of (N, 3, H, W) images in
    [-1, 1] and their label maps."""
    imgs = ((images + 1) * 127.5).permute(0, 2, 3, 1).double().numpy()
    r = intra_class_variation(list(imgs), list(labels.numpy()))
    return {"ICV-one": float(r.one_color), "ICV-all": float(r.all_color)}


# ------------------------------------------------------------------------------ tables
def wide(store: ResultStore, experiment: str, rows: list[tuple[str, str]], metrics: list[str],
         labels: dict | None = None) -> pd.DataFrame:
    """One row per (model, setting) of ``rows``, one column per metric, from the store."""
    out = []
    for model, setting in rows:
        r = {"model": (labels or {}).get((model, setting), model), "setting": setting}
        for m in metrics:
            r[m] = store.get(experiment, model, setting, m) if store.has(experiment, model, setting, m) else None
        out.append(r)
    return pd.DataFrame(out)


def write_table(ctx: Context, name: str, table: pd.DataFrame, title: str, notes: str = "",
                digits: int = 2) -> dict:
    """``OUT/<name>.csv`` (the store's cells of ``name``) and ``OUT/<name>.md``."""
    csv = ctx.out / f"{name}.csv"
    atomic_write_text(csv, ctx.store.frame(name).to_csv(index=False))
    md = ctx.out / f"{name}.md"
    text = f"# {title}\n\n" + md_table(table, digits) + "\n"
    if notes:
        text += "\n" + notes.strip() + "\n"
    if any(str(c).startswith("FID") for c in table.columns):
        text += "\n" + ctx.fid_note() + "\n"
    if "precision" in table.columns:
        text += ("\nPrecision / recall / density / coverage: the `prdc` package (Naeem et al. "
                 "2020), k = 5, on the FID features, against the real images of the same "
                 "evaluation maps (equal N).\n")
    atomic_write_text(md, text)
    return {"csv": csv, "markdown": md}


def context_from_args(args) -> Context:
    return Context(args.out, dataset=args.dataset, dataroot=args.dataroot,
                   checkpoints=parse_checkpoints(args.checkpoint), quick=args.quick,
                   runs=args.runs, fid_weights=args.fid_weights, segmenter=args.segmenter,
                   device=args.device, seed=args.seed,
                   log=None if getattr(args, "quiet", False) else print,
                   trust=getattr(args, "trust_checkpoint", False),
                   trust_segmenter=getattr(args, "trust_segmenter", False))


def select(rows: list, wanted: str | None, key=lambda r: r) -> list:
    """Rows whose key is in the comma-separated ``wanted`` (all when None)."""
    if not wanted:
        return rows
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    known = [key(r) for r in rows]
    bad = [n for n in names if n not in known]
    if bad:
        raise UserError(f"unknown model(s) {bad}; choose from {known}")
    return [r for r in rows if key(r) in names]
