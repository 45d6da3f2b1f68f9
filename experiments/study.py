"""The trained study: class-level mode collapse and its fix in trained generators.

SPADE, VA-SPADE, CLADE and VA-CLADE (:data:`MODELS`; a profile may add OASIS and VA-OASIS) are
trained on the same data with several seeds to a budget where they reproduce the data's
classes, and every checkpoint along the way is measured:

* image quality: FID-v and precision / recall / density / coverage on the FID Inception's
  features (against the real images of the same validation maps, equal N), mIoU and Acc of
  the segmenter (the scenes segmenter on the built-in data), the paper's ICV-one;
* where the variation is (:func:`analysis.trained.source_statistics`): within-image intra-class
  std per class next to the data's, std across samples of the same layout, the share of the
  variation within ``distance`` px of a class boundary next to the share of the area there
  (and the whole variation-vs-distance profile), inter-class std;
* pattern repetition at similar boundaries (:func:`experiments.fig1_fig3.repetition`: the same
  boundary at several positions, mean NCC of the strip beside it).

Table 1 on the same seeds: SPADE and CLADE retrained with reflect padding and with 1x1 residual
convs, and the trained originals changed by surgery (:mod:`experiments.table1`'s rows).

Everything is resumable like the experiments: each seed is one :class:`experiments.common.Context`
(runs in ``OUT/runs``, reused when complete, resumed when shorter; cells in
``OUT/seed<k>/results.json``, written atomically per cell group), so an interrupted study
computes only what is missing. :mod:`experiments.study_report` turns the cells into tables with
95% intervals over seeds, the claims' verdicts, the report and the figures;
:mod:`experiments.study_cli` is ``run_analysis.py study``.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from analysis import layouts, metrics
from analysis.cpu import all_cores
from analysis.runs import check_run_dir, train_or_reuse
from analysis.study import TINY, TINY_DISCRIMINATOR
from analysis.trained import data_sample_std, source_statistics
from vasis.data import build_dataset
from vasis.data.scenes import SceneDataset, paint_layout
from vasis.errors import ExistsError, UserError
from vasis.labels import label_space
from vasis.metrics import evaluate_segmentation
from vasis.metrics.density_coverage import PRDC_FIELDS
from vasis.metrics.image_sets import open_set
from vasis.train import RunSettings, list_checkpoints
from vasis.train.generate import EncodedBatches, load_generator, sample_images

from . import fig1_fig3, table1
from .common import GENERATE_BATCH, Context, Scale, icv

NAME = "study"
MODELS = ("spade", "va-spade", "clade", "va-clade")
BASELINE_OF = {"va-spade": "spade", "va-clade": "clade", "va-oasis": "oasis"}
QUALITY = ["FID-v", *PRDC_FIELDS, "mIoU", "Acc", "ICV-one"]
CURVE_QUALITY = ["mIoU", "Acc"]   # along training (FID only at the end unless the profile asks)
MIOU_SHARE = 0.8                  # "reproduces the classes": mIoU >= 80% of the real images'
HIGHPASS = 5                      # px: local mean removed before comparing textures


@dataclass(frozen=True)
class Profile:
    """One budget of the study: the training scale, the seeds, the rows, the evaluation."""

    name: str
    scale: Scale
    seeds: tuple[int, ...] = (0, 1, 2)
    models: tuple[str, ...] = MODELS
    table1: tuple[str, ...] = table1.MODELS   # models whose Table 1 rows are run
    distance: int = 4                         # px: "near a boundary"
    curve_fid: bool = False                   # FID / PRDC at every checkpoint too
    jobs: int = 1                             # training runs at once (train_runs)

    def with_(self, **changes) -> "Profile":
        """A copy with ``changes``: the profile's own fields (``name`` included: the scale's
        name names the run folders and never changes here), else the scale's (``iters``, ...)."""
        own = set(self.__dataclass_fields__)
        scale = {k: changes.pop(k) for k in list(changes)
                 if k in Scale.__dataclass_fields__ and k not in own}
        return replace(self, scale=replace(self.scale, **scale), **changes)


PROFILES = {
    # tests and `--profile quick`: tiny widths, 2 iterations, 2 seeds
    "quick": Profile("quick", Scale(name="study-quick", size=(64, 64),
                                    generator=dict(TINY), discriminator=dict(TINY_DISCRIMINATOR),
                                    iters=2, ckpt_every=1, keep=3, batch_size=2, n_train=8,
                                    eval_images=8, samples=2, seg_steps=20, seg_images=16),
                     seeds=(0, 1), models=("spade", "va-spade"), table1=("spade",)),
    # the CPU study: the smallest setting found where all four models reproduce the classes
    "cpu": Profile("cpu", Scale(name="study-cpu", size=(64, 64), generator={"ngf": 8, "hidden": 16},
                                discriminator={}, iters=400, ckpt_every=100, keep=5,
                                batch_size=4, n_train=500, eval_images=48, samples=4,
                                seg_steps=300, seg_images=200), distance=2, jobs=2),
    # a GPU budget: paper widths at 256 px height (Cityscapes 256x512), OASIS and VA-OASIS too
    # (VA-OASIS's unpadded first-block convs need a start map larger than 64x64 gives)
    "gpu": Profile("gpu", Scale(name="study-gpu", size=(256, 256), generator={},
                                discriminator={}, iters=20000, ckpt_every=2000, keep=11,
                                batch_size=8, n_train=None, eval_images=500, samples=4,
                                seg_steps=2000, seg_images=1000),
                   models=MODELS + ("oasis", "va-oasis"), curve_fid=True),
}


def profile(name: str, **changes) -> Profile:
    if name not in PROFILES:
        raise UserError(f"unknown --profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name].with_(**{k: v for k, v in changes.items() if v is not None})


# ----------------------------------------------------------------------------- evaluation
class Evaluation:
    """What every measurement of one seed shares: the validation maps, their real images,
    the data's own statistics and segmenter score (computed once)."""

    def __init__(self, ctx: Context, prof: Profile, shared: dict | None = None):
        self.ctx, self.prof = ctx, prof
        # the data's seed-free numbers, kept across the seeds' Evaluations (see data())
        self.shared = {} if shared is None else shared
        self.size = ctx.train_size()
        self.labels, self.instance = ctx.eval_data(self.size)
        self.real = ctx.real_images(self.size)
        self.space = label_space(ctx.dataset)
        self._data = None
        first, second, _ = fig1_fig3.boundary_classes(ctx.dataset)
        try:
            self.series = layouts.boundary_series(first, second, fig1_fig3.POSITIONS,
                                                  orientation="vertical", dataset=ctx.dataset,
                                                  size=self.size)
            self.sides = (("first", layouts.resolve_class(first, ctx.dataset)),
                          ("second", layouts.resolve_class(second, ctx.dataset)))
        except UserError:     # a label space without these classes: no repetition cells
            self.series = None

    def data(self) -> dict:
        """The data's row: statistics of the real images (for the scenes also the design's
        std across photos of the same layout) and the segmenter on the real images."""
        if self._data is None:
            key = (self.ctx.dataset, self.ctx.dataroot, self.size, len(self.labels),
                   self.prof.distance)
            if key not in self.shared:
                self.shared[key] = self._seed_free()
            out = dict(self.shared[key])
            if self.series is not None and self.ctx.dataset == "scenes":
                rng = np.random.default_rng(self.ctx.seed)
                painted = np.stack([paint_layout(m, rng) for m in self.series.numpy()])
                out.update(self.repetition(painted.transpose(0, 3, 1, 2)))
            self._data = out
        return self._data

    def _seed_free(self) -> dict:
        """Everything of the data's row but the painted repetition reference (which draws
        with the seed): the same for every seed, so a study computes it once."""
        real01 = (self.real.double().numpy()[None] + 1) / 2
        sample_map = None
        if self.ctx.dataset == "scenes" and self.ctx.dataroot is None:
            ds = SceneDataset(len(self.labels), size=self.size, seed=0, split="val")
            sample_map = np.stack([data_sample_std(ds.scene(i)) for i in range(len(ds))])
        out = self._statistics(real01, sample_map)
        out.update(self._segmentation(self.real))
        out["ICV-one"] = icv(self.real, self.labels)["ICV-one"]
        out.update(self._floor())
        return out

    def _statistics(self, images01: np.ndarray, sample_map=None) -> dict:
        """:func:`flat_statistics` of images (S, n, 3, H, W) in [0, 1] of the evaluation maps."""
        st = source_statistics(images01, self.labels.numpy(), self.prof.distance, sample_map,
                               num_classes=self.space.label_nc)
        return flat_statistics(st, self.space.classes)

    def _floor(self) -> dict:
        """FID-v and PRDC of as many *other* real validation images (the next ones): what the
        data itself scores at this N (FID on few images is far above 0)."""
        ctx, n = self.ctx, len(self.labels)
        net = ctx.fid_model()
        if isinstance(net, str):
            return {"FID-v": net}
        try:
            ds = build_dataset(ctx.dataset, ctx.dataroot, "val", self.size, train=False,
                               n=2 * n if ctx.dataroot is None else None)
            other = torch.stack([ds[i]["image"] for i in range(n, 2 * n)])
        except IndexError:      # fewer than 2N validation images: no floor
            return {}
        other_set = open_set(other, "other real images")
        return {"FID-v": ctx.fid_value(other_set, "val", net), **ctx.prdc(other_set, self.size)}

    def _segmentation(self, images) -> dict:
        seg = self.ctx.segmenter()
        if isinstance(seg, str):
            return {"mIoU": seg, "Acc": seg}
        r = evaluate_segmentation(seg, images, self.labels, num_classes=self.space.label_nc)
        return {"mIoU": 100.0 * float(r["miou"]), "Acc": 100.0 * float(r["pixel_accuracy"])}

    @torch.no_grad()
    def measure(self, gen, quality) -> dict:
        """Every number of one generator (in eval mode): ``quality`` of
        :meth:`Context.quality`, the variation statistics and the repetition."""
        ctx = self.ctx
        batches = EncodedBatches(gen, self.labels, self.instance, GENERATE_BATCH, ctx.device)
        imgs = sample_images(gen, batches, self.prof.scale.samples, ctx.seed).cpu()
        # sample 0 is what Context.generate makes of these maps (same batches, same seed)
        out = dict(ctx.quality(gen, quality, fake=imgs[0].float()))
        imgs = imgs.double()
        out.update(self._statistics(((imgs + 1) / 2).numpy()))
        if self.series is not None:
            out.update(self.repetition((ctx.generate(gen, self.series, seed=ctx.seed).double()
                                        .numpy() + 1) / 2))
        return out

    def repetition(self, images: np.ndarray) -> dict:
        """Pattern repetition of images (K, 3, H, W) in [0, 1] of the boundary series: mean
        NCC of the 8 px strips beside the boundary across its positions, averaged over the two
        sides; ``texture_repetition`` the same on the strips minus their local mean
        (:data:`HIGHPASS` px), which leaves out smooth gradients every photo shares."""
        raw, tex = [], []
        for side, cls in self.sides:
            anchors, patch = metrics.boundary_anchors(self.series, orientation="vertical",
                                                      depth=8, side=side)
            kw = dict(labels=self.series, cls=cls)
            raw.append(metrics.pattern_repetition(images, anchors, patch, **kw))
            tex.append(metrics.pattern_repetition(images, anchors, patch, highpass=HIGHPASS, **kw))
        return {"repetition": float(np.nanmean(raw)), "texture_repetition": float(np.nanmean(tex))}


def flat_statistics(st: dict, classes) -> dict:
    """:func:`source_statistics` as flat cells: class means and one cell per class / distance.
    A class named ``unlabeled`` (the scenes', Cityscapes' and ADE20K's id 0; COCO-Stuff's 0 is
    a class) is left out; so are classes below the pixel threshold in every map, from the means
    and the per-class cells (a COCO-Stuff map shows a few of its 182 classes)."""
    labelled = np.array([name != "unlabeled" for name in classes])

    def mean(a):
        a = np.asarray(a, float)[labelled]
        return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")

    out = {"intra_std": mean(st["intra"]), "sample_std": mean(st["sample"]),
           "near_fraction": mean(st["near"]), "area_fraction": mean(st["area"]),
           "inter_std": float(st["inter"])}
    out["near_excess"] = out["near_fraction"] - out["area_fraction"]
    for c in np.flatnonzero(labelled & np.isfinite(np.asarray(st["area"], float))):
        out[f"intra_std:{classes[c]}"] = float(st["intra"][c])
        out[f"sample_std:{classes[c]}"] = float(st["sample"][c])
    for k, d in enumerate(st["d"]):
        out[f"profile:{d}"] = mean(st["profile"][:, k])
        out[f"profile_area:{d}"] = mean(st["profile_area"][:, k])
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in out.items()}


# ----------------------------------------------------------------------------- the study
def _checkpoint_steps(run_dir: Path) -> list[tuple[int, Path]]:
    return sorted((int(p.stem.split("_")[1]), p) for p in list_checkpoints(run_dir))


def trained_rows(prof: Profile) -> list[tuple[str, str, dict]]:
    """(model, setting, overrides) of every trained row: the models, then Table 1's
    retrained variants of ``prof.table1``."""
    rows = [(m, "original", {}) for m in prof.models]
    for m in prof.table1:
        rows += [(m, f"retrained:{s}", ov) for s, ov in table1.RETRAINED[m].items()]
    return rows


def run_seed(ctx: Context, prof: Profile, progress: bool = True,
             shared: dict | None = None) -> None:
    """Train (or reuse) every row of one seed and fill its cells: each checkpoint of the
    models (learning curves), the final step of the retrained rows and the surgery rows.
    ``shared``: one dict for all seeds of a study (the data's seed-free numbers)."""
    ev = Evaluation(ctx, prof, shared)
    ctx.store.compute(NAME, "data", "real", None, ev.data)
    rows = trained_rows(prof)
    bar = tqdm(rows, desc=f"seed {ctx.seed}", unit="run", disable=not progress, leave=False)
    for model, setting, overrides in bar:
        bar.set_postfix_str(f"{model} {setting}")
        key = model if setting == "original" else f"{model}:{setting.split(':')[1]}"
        gen = ctx.generator(key, model, overrides)          # trains or reuses the run
        run_dir = ctx.run_dir(model, overrides)
        steps = _checkpoint_steps(run_dir) if setting == "original" else []
        final = prof.scale.iters
        for step, path in steps:
            if step == final:
                continue
            quality = QUALITY if prof.curve_fid else CURVE_QUALITY
            ctx.store.compute(NAME, model, f"{setting}@{step}", None,
                              lambda p=path, q=quality: ev.measure(
                                  load_generator(p, ctx.device)[0], q))
        ctx.store.compute(NAME, model, f"{setting}@{final}", None,
                          lambda g=gen: ev.measure(g, QUALITY))
        if setting == "original" and model in prof.table1:
            for name in table1.SURGERY_ROWS[model]:
                ctx.store.compute(NAME, model, f"surgery:{name}@{final}", None,
                                  lambda g=gen, n=name: ev.measure(table1.SURGERY[n](g), QUALITY))


def check_outputs(prof: Profile, ctxs: list[Context]) -> None:
    """Refuse, before anything is written, an output that is a file or a foreign folder where
    a training run would go (:func:`analysis.runs.check_run_dir`)."""
    for ctx in ctxs:
        for path in (ctx.out.parent, ctx.out, ctx.runs):
            if path.exists() and not path.is_dir():
                raise ExistsError(f"{path} is a file, not a folder of the study; move it away or "
                                  f"choose another --out")
        for model, _, overrides in trained_rows(prof):
            check_run_dir(ctx.run_dir(model, overrides))


def _train_one(job: tuple[dict, str, str]) -> dict:
    """One training run in a worker process, on one thread (see :func:`train_runs`)."""
    settings, run_dir, device = job
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    return train_or_reuse(RunSettings.from_dict(settings), run_dir, progress=False, device=device)


def train_runs(prof: Profile, ctxs: list[Context], jobs: int = 1, progress: bool = True,
               log=print) -> None:
    """Train (or reuse / resume) every run of the study before anything is measured.

    ``jobs > 1`` trains that many runs at once in worker processes of one thread each: these
    small networks keep two threads of one process busy only about half the time (and far less
    on a loaded machine), so on 2 cores two one-thread runs finish about twice as fast as
    one two-thread run after the other. A run's numbers depend on its thread count at rounding
    level only (the order of the sums in a conv). ``jobs == 1`` trains in this process on its
    threads, with a progress bar per run.
    """
    Training(prof, ctxs, jobs, log).wait(progress)


class Training:
    """The study's training runs (:func:`train_runs`), started in worker processes at
    construction when ``jobs > 1``, so that the caller can do other work meanwhile (the main
    job runs its one-thread probes); :meth:`wait` collects them (or, with ``jobs <= 1``,
    trains them in this process)."""

    def __init__(self, prof: Profile, ctxs: list[Context], jobs: int = 1, log=print):
        self.jobs, self.log = jobs, log
        self.todo = [(ctx, model, overrides) for ctx in ctxs
                     for model, _, overrides in trained_rows(prof)]
        self.pool, self.work = None, {}
        if jobs > 1:
            # the slow VA models first, so that the last runs to finish are short ones
            self.todo.sort(key=lambda t: not t[1].startswith("va-"))
            self.pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn"))
            for ctx, model, overrides in self.todo:
                job = (ctx.run_settings(model, overrides).to_dict(),
                       str(ctx.run_dir(model, overrides)), ctx.device)
                self.work[self.pool.submit(_train_one, job)] = (ctx, model, overrides)

    def _done(self, ctx, model, overrides, info) -> None:
        if info["status"] != "reused":
            self.log(f"[seed {ctx.seed}] {model}{' ' + str(overrides) if overrides else ''}: "
                     f"{info['status']} to step {info['step']} in {info['seconds']:.0f} s")

    def wait(self, progress: bool = True) -> None:
        """Every run trained (or reused / resumed); a failed run raises its error here."""
        if self.pool is None:
            for ctx, model, overrides in self.todo:
                self._done(ctx, model, overrides,
                           train_or_reuse(ctx.run_settings(model, overrides),
                                          ctx.run_dir(model, overrides), progress=progress,
                                          device=ctx.device))
            return
        try:
            bar = tqdm(as_completed(self.work), total=len(self.work),
                       desc=f"training ({self.jobs} at once)", unit="run", disable=not progress)
            for fut in bar:
                self._done(*self.work[fut], fut.result())
        except BaseException:
            self.stop()
            raise
        self.pool.shutdown()
        self.pool = None

    def stop(self) -> None:
        """End the workers now (the caller failed or was interrupted): a run is resumed from
        its last checkpoint next time."""
        if self.pool is None:
            return
        # shutdown lets a running job finish (minutes of training) and forgets the workers:
        # take them first, end them after
        workers = list((self.pool._processes or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.join()
            # the pool's manager thread joins them too: when its waitpid reaps a worker
            # first, ours returns before that thread has recorded the exit code, and the
            # worker reads as alive for a moment longer
            deadline = time.monotonic() + 5
            while proc.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)
        self.pool = None


def run_profile(prof: Profile, ctxs: list[Context], jobs: int | None = None,
                progress: bool = True, log=print, training: Training | None = None) -> None:
    """Train every run of ``prof`` (:func:`train_runs`, ``jobs`` default: the profile's; or
    collect ``training``, started earlier), then fill every seed's cells (:func:`run_seed`);
    trained networks run on every core."""
    with all_cores():
        if training is None:
            training = Training(prof, ctxs, jobs or prof.jobs, log)
        training.wait(progress)
        shared: dict = {}
        for ctx in ctxs:
            run_seed(ctx, prof, progress, shared)


def contexts(prof: Profile, out, **kw) -> list[Context]:
    """One context per seed: cells in ``OUT/seed<k>``, all runs in ``OUT/runs``."""
    out = Path(out)
    return [Context(out / f"seed{s}", runs=out / "runs", seed=s, scale=prof.scale, **kw)
            for s in prof.seeds]


def cells(ctxs: list[Context]) -> pd.DataFrame:
    """Every finished cell of the study: seed, model, setting, step, metric, value."""
    frames = []
    for ctx in ctxs:
        f = ctx.store.frame(NAME)
        if len(f):
            f = f.assign(seed=ctx.seed)
            frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["seed", "model", "setting", "step", "metric", "value"])
    df = pd.concat(frames, ignore_index=True)
    parts = df.setting.str.rsplit("@", n=1, expand=True)
    df["setting"] = parts[0]
    df["step"] = pd.to_numeric(parts[1], errors="coerce") if parts.shape[1] > 1 else np.nan
    return df[["seed", "model", "setting", "step", "metric", "value"]]
