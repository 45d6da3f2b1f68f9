"""A generator from a checkpoint: the suite's own training runs and official checkpoints alike.

:func:`open_generator` tells the two apart by content, not by name: a suite checkpoint is a
dict with ``format='vasis-train-checkpoint'`` and the run's settings (``run``), from which the
generator is rebuilt exactly as it was trained (model, dataset preset, size, overrides such as
VA-SPADE's reflect padding); anything else is read as an official generator state dict with
:func:`vasis.load_official` as the ``model`` / ``dataset`` preset. A folder is a suite run (its
newest good checkpoint). Files are read once, with ``weights_only=True`` unless ``trust``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..official_checkpoints import load_official
from ..config import GeneratorConfig, NormConfig
from ..errors import MissingFileError, UserError
from ..loading import TRUST_HINT, load_torch_file
from ..presets import build_generator
from .checkpoint import (check_state, is_training_state, list_checkpoints, load_latest,
                         resolve_checkpoint)
from .trainer import RunSettings

__all__ = ["OpenedGenerator", "generator_from_state", "load_generator", "open_generator",
           "read_generator_file", "generator_from_content"]


def generator_from_state(state: dict, device="cpu", use_ema: bool = True):
    """(generator in eval mode, run settings, label-space name, (H, W)) of a trainer checkpoint."""
    settings = RunSettings.from_dict(state["run"])
    preset = state.get("preset") or settings.dataset
    h, w = state.get("size") or settings.size
    g = build_generator(settings.model, preset, **{**settings.generator, "height": h, "width": w})
    sd = state["generator"]
    if use_ema:
        sd = state.get("ema_eval") or state.get("ema") or sd
    g.load_state_dict(sd)
    return g.to(device).eval(), settings, preset, (h, w)


def load_generator(checkpoint, device="cpu", use_ema: bool = True):
    """:func:`generator_from_state` of a run folder (its newest good checkpoint) or a file."""
    return generator_from_state(resolve_checkpoint(checkpoint)[1], device, use_ema)


@dataclass(frozen=True)
class OpenedGenerator:
    generator: object
    kind: str          # 'suite' (a training run of this suite) or 'official'
    model: str         # the model preset it is an instance of
    path: Path         # the file that was read
    description: str   # for headers and logs


def _cfg_value(cfg: GeneratorConfig, key: str):
    if key in GeneratorConfig.__dataclass_fields__:
        return getattr(cfg, key)
    if key in NormConfig.__dataclass_fields__:
        return getattr(cfg.norm, key)
    return None


def _check_matches(gen, path, settings, preset, model, dataset, overrides) -> None:
    """A suite run is rebuilt from its own settings: refuse options that say otherwise."""
    wrong = []
    if model is not None and model != settings.model:
        wrong.append(f"--model {model} (the run is {settings.model})")
    if dataset is not None and dataset != preset:
        wrong.append(f"--dataset {dataset} (the run is {preset})")
    for key, value in (overrides or {}).items():
        ours = _cfg_value(gen.cfg, key)
        if ours != value:
            wrong.append(f"{key}={value} (the run has {ours})")
    if wrong:
        raise UserError(f"{path} is a suite training run, rebuilt from its own settings; it does "
                        f"not match {', '.join(wrong)}: drop those options or give another "
                        f"checkpoint")


def read_generator_file(path, *, trust: bool = False, trust_hint: str = TRUST_HINT):
    """(the file read, its content) of a suite run folder (newest good checkpoint) or a file."""
    p = Path(path)
    if p.is_dir():
        if not list_checkpoints(p):
            raise MissingFileError(f"{p} is a folder without training checkpoints "
                                   f"(checkpoints/step_*.pt): give a suite run folder or a "
                                   f"checkpoint file")
        return load_latest(p)
    if not p.is_file():
        raise MissingFileError(f"checkpoint {p} does not exist (give a suite run folder, its "
                               f"checkpoints/step_*.pt, or an official generator checkpoint)")
    return p, load_torch_file(p, trust=trust, trust_hint=trust_hint)


def generator_from_content(file, state, model: str | None = None, dataset: str | None = None, *,
                           official_dataset: str | None = None, device="cpu",
                           use_ema: bool = True, **overrides) -> OpenedGenerator:
    """:func:`open_generator` of content already read by :func:`read_generator_file`."""
    if is_training_state(state):
        gen, settings, preset, (h, w) = generator_from_state(check_state(state, file), device,
                                                             use_ema)
        _check_matches(gen, file, settings, preset, model, dataset, overrides)
        return OpenedGenerator(gen, "suite", settings.model, Path(file),
                               f"suite run {file} ({settings.model}, {preset}, {h}x{w}, "
                               f"step {state.get('step')})")
    dataset = dataset or official_dataset
    if model is None or dataset is None:
        missing = " and ".join(n for n, v in (("--model", model), ("--dataset", dataset)) if v is None)
        raise UserError(f"{file} is not a suite training run, so it is read as an official "
                        f"generator checkpoint: give {missing} (the preset it was trained as)")
    gen = load_official(state, model, dataset, source=f"file {str(file)!r}", **overrides)
    return OpenedGenerator(gen.to(device), "official", model, Path(file),
                           f"official checkpoint {file}")


def open_generator(path, model: str | None = None, dataset: str | None = None, *,
                   official_dataset: str | None = None, trust: bool = False, device="cpu",
                   use_ema: bool = True, trust_hint: str = TRUST_HINT,
                   **overrides) -> OpenedGenerator:
    """The generator in ``path`` (eval mode): a suite run (folder or ``step_N.pt``) or an
    official checkpoint, told apart by content (see the module docstring).

    For a suite run ``model``, ``dataset`` and ``overrides`` may be omitted; given, they must
    match the run. An official checkpoint needs ``model`` and ``dataset`` (its preset;
    ``official_dataset`` is the fallback when ``dataset`` is None).
    """
    file, state = read_generator_file(path, trust=trust, trust_hint=trust_hint)
    return generator_from_content(file, state, model, dataset, official_dataset=official_dataset,
                                  device=device, use_ema=use_ema, **overrides)
