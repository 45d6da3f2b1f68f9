"""Training of the suite's models: recipes, the G/D loop, EMA, checkpoints, DDP, logging.

Modules: :mod:`.recipes` (official optimiser / schedule / batch / EMA settings),
:mod:`.checkpoint` (atomic checkpoints, RNG states), :mod:`.data` (resumable batch stream),
:mod:`.loop` (one G step + D step), :mod:`.ema`, :mod:`.distributed` (torchrun / DDP),
:mod:`.monitor` (jsonl, TensorBoard, variation metrics), :mod:`.trainer` (the run),
:mod:`.generate` (images from a checkpoint), :mod:`.stop` (clean stops on SIGINT / SIGTERM / SIGUSR1).
"""
from .checkpoint import list_checkpoints, load_latest, read_checkpoint, resolve_checkpoint
from .loop import NonFiniteLossError
from .recipes import OASIS_FAMILY, SPADE_FAMILY, TrainRecipe, recipe
from .stop import TrainingStopped
from .trainer import RunSettings, SampleReadError, Trainer, TrainResult, train

__all__ = ["TrainRecipe", "recipe", "SPADE_FAMILY", "OASIS_FAMILY", "RunSettings", "Trainer",
           "TrainResult", "train", "NonFiniteLossError", "list_checkpoints", "load_latest",
           "read_checkpoint", "resolve_checkpoint", "TrainingStopped", "SampleReadError"]
