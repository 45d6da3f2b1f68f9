"""The trainer: builds a run from :class:`RunSettings`, trains, checkpoints, resumes.

>>> from vasis.train import RunSettings, train
>>> s = RunSettings("oasis", "scenes", generator={"ngf": 4, "hidden": 8}, iters=20)
>>> result = train(s, "runs/oasis-scenes")                      # doctest: +SKIP
>>> result = train(None, "runs/oasis-scenes", resume=True, updates={"iters": 40})  # doctest: +SKIP

A run folder holds ``run.json`` (the settings), ``checkpoints/step_*.pt``, ``losses.jsonl``
(one line per logged step) and ``tb/`` (TensorBoard: losses, learning rates, sample grids,
variation metrics). Everything that is checked (dataset, run folder, options, VGG weights) is
checked before anything is written. Resuming restores networks, EMA, optimisers, schedulers,
the position in the data stream and the torch / numpy / python RNG states, so on the CPU a
resumed run reproduces the uninterrupted one bit for bit.
"""
from __future__ import annotations

import contextlib
import copy
import json
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from ..losses import VGGLoss, loss_config, oasis_dontcare_channel
from ..presets import DATASETS, build_discriminator, build_generator
from . import checkpoint as ckpt_io
from .data import BatchStream, check_data, training_dataset
from .distributed import DistEnv, barrier, convert_sync_bn, gather_objects, setup, teardown
from .ema import new_ema, refreshed_copy
from .loop import NonFiniteLossError, StepContext, iteration, model_inputs
from .monitor import RunLog, sample_grid, variation_metrics
from .recipes import TrainRecipe, recipe as make_recipe
from .speed import SpeedOptions, apply_speed
from .stop import StopOnSignals, TrainingStopped
from ..data import DatasetError
from ..errors import UserError, MissingFileError, ExistsError
from ..presets import discriminator_config, generator_config
from ..data.folders import canonical_name
from .data import DEFAULT_SCENES_TRAIN

# Settings a resume may change; everything else comes from the checkpoint.
RESUME_UPDATABLE = ("iters", "epochs", "ckpt_every", "log_every", "sample_every", "keep",
                    "tensorboard", "num_workers", "compile", "channels_last")


@dataclass
class RunSettings:
    """One training run. ``recipe`` holds recipe-field overrides (e.g. ``batch_size``);
    ``generator`` / ``discriminator`` hold architecture overrides (e.g. ``ngf``, ``ndf``);
    ``loss`` holds :class:`~vasis.losses.LossConfig` overrides. ``iters`` caps the run in
    iterations; else ``epochs`` (default: the recipe's niter + niter_decay)."""

    model: str
    dataset: str = "scenes"
    dataroot: str | None = None
    size: tuple[int, int] | None = None
    generator: dict = field(default_factory=dict)
    discriminator: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    seed: int = 0
    iters: int | None = None
    epochs: int | None = None
    ckpt_every: int = 1000
    log_every: int = 50
    sample_every: int = 500
    keep: int = 2
    n_train: int | None = None      # built-in scenes: how many training scenes (default 1000)
    amp: bool = False               # autocast: fp16 + GradScaler on CUDA, bf16 on the CPU
    channels_last: bool = False     # NHWC networks and batches (see vasis.train.speed)
    compile: bool = False           # torch.compile of G and D
    tensorboard: bool = True
    num_workers: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size) if self.size is not None else None
        return json.loads(json.dumps(d))  # plain JSON types (tuples -> lists)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSettings":
        d = dict(d)
        if d.get("size") is not None:
            d["size"] = tuple(d["size"])
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})

    def resolved_recipe(self) -> TrainRecipe:
        r = make_recipe(self.model, _preset_name(self.dataset), **self.recipe)
        if self.epochs is not None:
            r = r.with_epochs(self.epochs)
        return r


def _check_norm_statistics(cfg, batch_size: int, size) -> None:
    """The generator's first map is (H, W) / 2**upsamplings; its training-mode norm needs more
    than one value per channel (batch x pixels for batch norm, pixels for instance norm) -
    else torch fails mid-step with a bare ValueError."""
    ups = cfg.num_upsampling_layers_count
    pixels = (size[0] // 2 ** ups) * (size[1] // 2 ** ups)
    values = pixels if cfg.norm.param_free == "instance" else batch_size * pixels
    if values < 2:
        need = "a larger --size" if cfg.norm.param_free == "instance" else \
            "--batch-size 2 or more, or a larger --size"
        raise UserError(f"--size {size[0]}x{size[1]} with --batch-size {batch_size} leaves the "
                        f"generator's first {cfg.norm.param_free} norm one value per channel "
                        f"(a {size[0] // 2 ** ups}x{size[1] // 2 ** ups} map); use {need}")


def _preset_name(dataset: str) -> str:
    return canonical_name(dataset)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    checkpoint: Path | None
    last_losses: dict
    total_steps: int = 0
    nothing_to_do: bool = False     # a resume whose run was already at (or past) its end
    is_main: bool = True            # rank 0 (the one that reports) under torchrun


class SampleReadError(UserError):
    """A training sample could not be read mid-run (e.g. a truncated image): the run stopped."""


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)


@contextlib.contextmanager
def _isolated_rng(seed: int, device: torch.device):
    """Side work (samples, EMA refresh) with its own seed, leaving the training RNG untouched."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class Trainer:
    """Networks, optimisers and data of one run (one process of it under torchrun)."""

    def __init__(self, settings: RunSettings, run_dir, env: DistEnv, state: dict | None = None):
        self.settings = s = settings
        self.run_dir = Path(run_dir)
        self.env = env
        self.recipe = s.resolved_recipe()
        _seed_all(s.seed + env.rank)
        dev = env.device

        self.dataset = training_dataset(s.dataset, s.dataroot, s.size, s.seed, s.n_train)
        self.space = self.dataset.space
        preset = self.space.name  # custom folders train in their label space's preset
        if preset not in DATASETS:
            raise UserError(f"no model preset for label space {preset!r}")
        h, w = tuple(s.size) if s.size is not None else (DATASETS[preset].height, DATASETS[preset].width)
        self.size = (h, w)
        workers = self.recipe.num_workers if s.num_workers is None else s.num_workers
        self.stream = BatchStream(self.dataset, self.recipe.batch_size, s.seed, env.rank,
                                  env.world_size, workers)

        self.g_raw = build_generator(s.model, preset, **{**s.generator, "height": h, "width": w}).to(dev)
        _check_norm_statistics(generator_config(s.model, preset, **{**s.generator, "height": h,
                                                                     "width": w}),
                               self.recipe.batch_size, (h, w))
        self.d_raw = build_discriminator(s.model, preset, **{**s.discriminator, "height": h, "width": w}).to(dev)
        family = self.recipe.family
        self.ema = new_ema(self.g_raw) if family == "oasis" and self.recipe.ema_decay is not None else None
        self.g_raw = convert_sync_bn(self.g_raw, dev)
        self.speed = SpeedOptions(amp=s.amp, channels_last=s.channels_last, compile=s.compile)
        if self.speed.channels_last:  # before the optimisers and DDP see the parameters
            apply_speed(self.g_raw, self.d_raw, replace(self.speed, compile=False))
        if env.enabled:
            ids = [dev.index] if dev.type == "cuda" else None
            self.g = DDP(self.g_raw, device_ids=ids)
            self.d = DDP(self.d_raw, device_ids=ids)
        else:
            self.g, self.d = self.g_raw, self.d_raw
        if self.speed.compile:
            self.g, self.d = torch.compile(self.g), torch.compile(self.d)

        r = self.recipe
        adam = self.speed.adam_kwargs(dev)
        self.opt_g = torch.optim.Adam(self.g_raw.parameters(), lr=r.lr_g, betas=(r.beta1, r.beta2),
                                      **adam)
        self.opt_d = torch.optim.Adam(self.d_raw.parameters(), lr=r.lr_d, betas=(r.beta1, r.beta2),
                                      **adam)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, r.lr_factor)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, r.lr_factor)
        scaled = self.speed.uses_scaler(dev)
        self.scaler_g = torch.amp.GradScaler(dev.type, enabled=scaled)
        self.scaler_d = torch.amp.GradScaler(dev.type, enabled=scaled)

        loss_kw = dict(s.loss)
        if not r.use_vgg:
            loss_kw["lambda_vgg"] = 0.0
        elif family == "oasis":
            loss_kw.setdefault("lambda_vgg", 10.0)  # OASIS's --add_vgg_loss
        self.loss_cfg = loss_config(s.model, preset, **loss_kw)
        vgg = VGGLoss(self.loss_cfg.vgg_weights).to(dev) if self.loss_cfg.use_vgg else None

        self.ctx = StepContext(
            family=family, space=self.space, g=self.g, d=self.d, g_raw=self.g_raw,
            opt_g=self.opt_g, opt_d=self.opt_d, scaler_g=self.scaler_g, scaler_d=self.scaler_d,
            loss_cfg=self.loss_cfg, env=env, vgg=vgg, ema=self.ema, ema_decay=r.ema_decay,
            dontcare_channel=oasis_dontcare_channel(preset) if family == "oasis" else None,
            amp_dtype=self.speed.amp_dtype(dev), channels_last=self.speed.channels_last)

        self.step = self.epoch = self.batch = 0
        self.total_steps = s.iters if s.iters is not None else r.epochs * self.stream.steps_per_epoch
        if self.total_steps < 1:
            raise UserError(f"nothing to train: {self.total_steps} iterations")
        self.last_checkpoint: Path | None = None
        self.saved_step = self.step if state is None else int(state["step"])
        self.last_losses: dict = {}
        if state is not None:
            self.load_state_dict(state)

    # ---------------------------------------------------------------------------------- state
    def state_dict(self, rng_ranks: list | None = None) -> dict:
        state = {
            "step": self.step, "epoch": self.epoch, "batch": self.batch,
            "world_size": self.env.world_size, "preset": self.space.name, "size": list(self.size),
            "run": self.settings.to_dict(), "recipe": self.recipe.to_dict(),
            "generator": self.g_raw.state_dict(), "discriminator": self.d_raw.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "rng": ckpt_io.rng_state(),
        }
        if rng_ranks is not None:
            state["rng_ranks"] = rng_ranks
        return state

    def load_state_dict(self, state: dict) -> None:
        self.g_raw.load_state_dict(state["generator"])
        self.d_raw.load_state_dict(state["discriminator"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise UserError("the checkpoint has no EMA generator but this recipe uses one")
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        if state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.step, self.epoch, self.batch = int(state["step"]), int(state["epoch"]), int(state["batch"])
        if self.batch >= self.stream.steps_per_epoch:  # a different batch size / world size
            self.epoch, self.batch = self.epoch + 1, 0
        ranks = state.get("rng_ranks")
        if ranks is not None and len(ranks) == self.env.world_size:
            ckpt_io.set_rng_state(ranks[self.env.rank])
        elif self.env.world_size == 1 or ranks is None and state.get("world_size", 1) == 1:
            ckpt_io.set_rng_state(state["rng"])
        else:  # resumed with another number of processes: fresh, distinct streams per rank
            _seed_all(self.settings.seed + 7919 * self.step + self.env.rank)

    # ------------------------------------------------------------------------ side products
    def _forward_fn(self, model: nn.Module, batch: dict):
        label, _ = model_inputs(self.ctx, batch)
        return model(label)

    def ema_eval(self) -> nn.Module | None:
        """A BN-refreshed copy of the EMA generator (OASIS's evaluation generator)."""
        if self.ema is None:
            return None
        with _isolated_rng(self.settings.seed + 2, self.env.device):
            batches = self.stream.fixed_batches(self.recipe.ema_refresh_batches, salt=2)
            return refreshed_copy(self.ema, batches, self._forward_fn)

    def save(self) -> Path | None:
        ranks = gather_objects(ckpt_io.rng_state(), self.env) if self.env.enabled else None
        path = None
        if self.env.is_main:
            state = self.state_dict(ranks)
            ema_eval = self.ema_eval()
            state["ema_eval"] = ema_eval.state_dict() if ema_eval is not None else None
            path = ckpt_io.save_checkpoint(self.run_dir, state, keep=self.settings.keep)
            self.last_checkpoint = path
        self.saved_step = self.step
        barrier(self.env)
        return path

    @torch.no_grad()
    def samples(self, log: RunLog) -> dict[str, float]:
        """Sample grid and variation metrics on a fixed batch (copies; training state untouched)."""

        batch = next(self.stream.fixed_batches(1, salt=1, batch_size=min(4, self.recipe.batch_size)))
        _, real = model_inputs(self.ctx, batch)
        with _isolated_rng(self.settings.seed + 1, self.env.device):
            g = copy.deepcopy(self.g_raw)  # train-mode output, as the official training visuals
            fakes = [self._forward_fn(g, batch)]
            ema = self.ema_eval()
            if ema is not None:
                fakes.append(self._forward_fn(ema, batch))
        step = self.step
        log.image("samples/label_real_fake" + ("_ema" if ema is not None else ""),
                  sample_grid(batch["label"], real, fakes, self.space.label_nc), step)
        metrics = variation_metrics(fakes[-1], real, batch["label"], self.space.label_nc)
        log.scalars(step, metrics, jsonl=False)
        return metrics

    # --------------------------------------------------------------------------------- loop
    def fit(self, progress: bool = True) -> TrainResult:
        s, env = self.settings, self.env
        log = RunLog(self.run_dir, self.step, s.tensorboard) if env.is_main else None
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (progress and env.is_main),
                   desc=f"{s.model}/{s.dataset}", unit="it", dynamic_ncols=True)
        spe = self.stream.steps_per_epoch
        stop = StopOnSignals()
        try:
            stop.__enter__()
            while self.step < self.total_steps:
                for batch in self.stream.batches(self.epoch, self.batch):
                    losses = iteration(self.ctx, batch, self.step + 1)
                    self.step += 1
                    self.batch += 1
                    if self.batch >= spe:
                        self.epoch, self.batch = self.epoch + 1, 0
                        self.sched_g.step()
                        self.sched_d.step()
                    self.last_losses = losses
                    bar.update(1)
                    if log is not None and (self.step % s.log_every == 0 or self.step == self.total_steps):
                        lrs = {"lr/G": self.opt_g.param_groups[0]["lr"],
                               "lr/D": self.opt_d.param_groups[0]["lr"]}
                        log.scalars(self.step, {**losses, **lrs, "epoch": float(self.epoch)})
                        bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
                    if log is not None and s.sample_every and self.step % s.sample_every == 0:
                        self.samples(log)
                    if self.step % s.ckpt_every == 0 or self.step == self.total_steps:
                        self.save()
                    if self.step < self.total_steps and (signum := stop.requested(env)):
                        if self.saved_step != self.step:
                            self.save()
                        raise TrainingStopped(signum, self.step, self._newest_checkpoint(),
                                              self.run_dir, env.is_main)
                    if self.step >= self.total_steps or self.batch == 0:
                        break
        except NonFiniteLossError as err:
            raise _with_checkpoint(err, self._kept()) from None
        except DatasetError as err:  # a sample that passed the up-front check fails to decode
            raise SampleReadError(
                f"training stopped at step {self.step + 1}: {_one_line(err)} Then continue with "
                f"--resume ({self._kept()}; '--check-images full' finds every such file "
                f"up front).") from None
        finally:
            stop.__exit__(None, None, None)
            bar.close()
            if log is not None:
                log.close()
        return TrainResult(self.run_dir, self.step, self.epoch, self.last_checkpoint,
                           self.last_losses, self.total_steps, is_main=env.is_main)

    def _newest_checkpoint(self) -> Path | None:
        last = ckpt_io.list_checkpoints(self.run_dir)
        return last[0] if last else None

    def _kept(self) -> str:
        last = self._newest_checkpoint()
        return f"the last good checkpoint {last} is kept" if last else "no checkpoint was written yet"


def _with_checkpoint(err: NonFiniteLossError, keep: str) -> NonFiniteLossError:
    new = NonFiniteLossError(err.step, err.term, err.value, err.phase)
    new.args = (f"{err.args[0]}. Training stopped; {keep}. Fix the cause (e.g. a lower learning "
                f"rate or bad data) and continue with --resume.",)
    return new


def _one_line(err: DatasetError) -> str:
    """The problem of a failed sample read as one line (also when a DataLoader worker re-raised
    it, which keeps only the text: its last line is the problem)."""
    if err.problems and err.problems[0].paths:
        p = err.problems[0]
        return f"{p.message} Fix: {p.fix}"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1].lstrip("- ") if lines else "a sample could not be read."


# ------------------------------------------------------------------------------------- entry
def _is_nonempty_dir(p: Path) -> bool:
    return p.exists() and (not p.is_dir() or any(p.iterdir()))


def _effective(saved: RunSettings, state: dict, key: str):
    """The value the run in ``state`` trains with for a settings ``key`` (``size``,
    ``recipe.batch_size``, ``generator.ngf``, ...), defaults resolved as the trainer did."""
    head, _, sub = key.partition(".")
    if head == "recipe":
        return state["recipe"].get(sub)
    if head in ("generator", "discriminator"):
        make = generator_config if head == "generator" else discriminator_config
        cfg = make(saved.model, state.get("preset") or _preset_name(saved.dataset),
                   **getattr(saved, head))
        return getattr(cfg, sub) if hasattr(cfg, sub) else getattr(cfg.norm, sub, None)
    if head == "loss":
        return saved.loss.get(sub)
    if key == "size":
        return tuple(state["size"])
    if key == "n_train" and saved.n_train is None and saved.dataroot is None:
        return DEFAULT_SCENES_TRAIN
    return getattr(saved, key)


def _normalised(key: str, value):
    if value is None:
        return None
    if key == "dataset":
        return _preset_name(value)
    if key == "dataroot":
        return str(Path(value).resolve())
    if key == "size":
        return tuple(value)
    return value


def _show(value) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def check_resume_options(saved: RunSettings, state: dict, given, run_dir) -> None:
    """Refuse resume options that differ from the run's own settings (equal ones are fine, so
    repeating the run's command line with --resume works). ``given``: (option, key, value)."""
    wanted = {key: (option, value) for option, key, value in given}  # later options win
    differ: dict[str, list[str]] = {}
    for key, (option, value) in wanted.items():
        mine, theirs = _normalised(key, value), _normalised(key, _effective(saved, state, key))
        if isinstance(mine, float) and isinstance(theirs, float):
            same = abs(mine - theirs) <= 1e-9 * max(abs(mine), abs(theirs))
        else:
            same = mine == theirs
        if not same:
            # a switch that sets several fields (--no-ttur) names the field that differs
            shown = f"sets {key.split('.')[-1]} {value}" if option == "--no-ttur" else _show(value)
            differ.setdefault(option, []).append(f"{shown} (the run's: {_show(theirs)})")
    if differ:
        listed = "; ".join(f"{option} " + ", ".join(items) for option, items in differ.items())
        raise UserError(f"--resume continues the run in {run_dir} with its own settings, and "
                        f"these options differ: {listed}. Drop them (or give the run's values), "
                        f"or start a new run with another --out")


def train(settings: RunSettings | None, run_dir, *, resume: bool = False, updates: dict | None = None,
          device: str | None = None, progress: bool = True, given=None, on_start=None,
          check_images: str = "tail") -> TrainResult:
    """Train (or, with ``resume=True``, continue) the run in ``run_dir``.

    New runs refuse an existing non-empty ``run_dir``. A resume reads the settings from the
    newest good checkpoint; ``updates`` may change only :data:`RESUME_UPDATABLE` fields (e.g. a
    larger ``iters``), ``given`` lists other settings as (option, key, value) that must equal
    the run's (see :func:`check_resume_options`), and ``settings``, if given, must agree with
    the checkpoint's model and dataset. A resume at or past the run's last step changes nothing
    and returns ``nothing_to_do=True``. ``on_start(run_dir, settings, is_main)`` is called once
    the run folder is written, before the first step. ``check_images`` is the up-front image
    check: ``"tail"`` (headers and file ends) or ``"full"`` (decode every image). Under
    torchrun every process calls this; only rank 0 writes.
    """
    run_dir = Path(run_dir)
    if check_images not in ("tail", "full"):
        raise UserError(f"check_images must be 'tail' or 'full', got {check_images!r}")
    env = setup(device)
    try:
        state = None
        if resume:
            if not run_dir.is_dir():
                raise MissingFileError(f"--resume: run folder {run_dir} does not exist; give the "
                                       f"--out of an existing run, or drop --resume for a new one")
            if not ckpt_io.list_checkpoints(run_dir):
                raise MissingFileError(
                    f"--resume: {run_dir} holds no checkpoint ({ckpt_io.checkpoint_dir(run_dir)}/"
                    f"step_*.pt); give the --out of a run that wrote one, or drop --resume and "
                    f"start a new run in another --out")
            _, state = ckpt_io.load_latest(run_dir)
            saved = RunSettings.from_dict(state["run"])
            if settings is not None:
                for key in ("model", "dataset"):
                    if getattr(settings, key) != getattr(saved, key):
                        raise UserError(f"--resume: the run in {run_dir} trains {key} "
                                         f"{getattr(saved, key)!r}, not {getattr(settings, key)!r}")
            check_resume_options(saved, state, given or (), run_dir)
            bad = sorted(set(updates or {}) - set(RESUME_UPDATABLE))
            if bad:
                raise UserError(f"--resume cannot change {bad}; only {list(RESUME_UPDATABLE)}")
            settings = replace(saved, **{k: v for k, v in (updates or {}).items() if v is not None})
        else:
            if settings is None:
                raise UserError("train() needs settings for a new run")
            if updates:
                settings = replace(settings, **updates)
            if _is_nonempty_dir(run_dir):
                raise ExistsError(f"run folder {run_dir} already exists; pass --resume to "
                                      f"continue it or choose another --out")
        for name in ("ckpt_every", "log_every"):
            if getattr(settings, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(settings, name)}")
        if settings.iters is not None and settings.iters < 1:
            raise UserError(f"iters must be >= 1, got {settings.iters}")
        check_data(settings.dataset, settings.dataroot, decode_images=check_images == "full")
        trainer = Trainer(settings, run_dir, env, state)   # builds everything, writes nothing
        if resume and trainer.step >= trainer.total_steps:
            return TrainResult(run_dir, trainer.step, trainer.epoch, None, {},
                               trainer.total_steps, nothing_to_do=True, is_main=env.is_main)
        barrier(env)
        if env.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            info = {"settings": settings.to_dict(), "recipe": trainer.recipe.to_dict(),
                    "loss": asdict(trainer.loss_cfg), "size": list(trainer.size),
                    "steps_per_epoch": trainer.stream.steps_per_epoch,
                    "total_steps": trainer.total_steps, "world_size": env.world_size,
                    "device": str(env.device)}
            ckpt_io.atomic_write_text(run_dir / "run.json", json.dumps(info, indent=1))
        barrier(env)
        if on_start is not None:
            on_start(run_dir, settings, env.is_main)
        return trainer.fit(progress)
    finally:
        teardown(env)
