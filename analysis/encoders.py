"""Input conventions: from an integer label map to what a generator's ``forward`` takes.

The probes (:func:`analysis.probe`, :class:`analysis.FeatureRecorder`) build layouts as integer
(N, H, W) label maps. The suite's generators take those as they are; a network the suite did
not build takes the official codebases' encoded input. Each helper here returns an
:class:`Encoder`, a callable ``labels -> input`` that also knows its label space (so the probes
can name the classes):

* :func:`spade` - official SPADE (NVlabs/SPADE ``models/pix2pix_model.py``,
  ``preprocess_input``): one-hot over ``label_nc`` classes, the don't-care id 255 as channel
  ``label_nc`` where the dataset has one (COCO-Stuff), then one instance-edge channel where the
  dataset has instance maps (Cityscapes, COCO-Stuff) unless ``instance=False``
  (``--no_instance``). Cityscapes 36 channels, ADE20K 151, COCO-Stuff 184 (docs/facts.md, 2).
* :func:`clade` - CLADE is a SPADE fork with SPADE's input pipeline (tzt101/CLADE), so the same
  channels; CLADE-ICPE's distance map is a second input (:func:`icpe_map`, see below).
* :func:`oasis` - official OASIS (boschresearch/OASIS ``utils`` ``preprocess_input``): one-hot,
  no instance channel; on COCO-Stuff the labels are shifted by one, so the don't-care channel
  comes *first* (183 channels; Cityscapes 35, ADE20K 151). The suite's own OASIS puts it last
  and permutes official weights on load (:func:`vasis.load_official`); a foreign OASIS fork
  has the official order.
* :func:`ids` - the integer map itself (a model that encodes its own input, like the suite's).

All of them reuse :func:`vasis.inputs.encode_labels` (one-hot, don't-care, instance edges, and
its checks of the label ids). A layout carries no instance map, so the edge channel is all zero:
no instance boundaries (as SPADE's own loader gives for a map without instances).

What an encoder returns decides how the model is called: a tensor ``x`` -> ``model(x)``, a
tuple -> ``model(*x)``, a dict -> ``model(**x)``. CLADE-ICPE, for instance::

    enc = encoders.clade("cityscapes")
    encode = lambda ids: {"input": enc(ids), "input_dist": encoders.icpe_map(ids)}

(keyword names are the fork's own). :data:`ENCODERS` maps the names the command line takes
(``--encode``) to the helpers; :func:`encoder` looks one up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from vasis.errors import UserError
from vasis.inputs import check_label_ids, encode_labels
from vasis.labels import LabelSpace, label_space
from vasis.relative_position import relative_position_code

__all__ = ["Encoder", "spade", "clade", "oasis", "ids", "icpe_map", "encoder", "ENCODERS"]


@dataclass(frozen=True)
class Encoder:
    """``labels`` (integer (N, H, W)) -> model input, by one named convention.

    ``space`` is the dataset's label space (class names for the probes' ``class_name``);
    ``channels`` the number of input channels (``None`` for :func:`ids`).
    """

    name: str
    space: LabelSpace
    fn: Callable[[torch.Tensor], torch.Tensor]
    channels: int | None

    def __call__(self, labels: torch.Tensor) -> torch.Tensor:
        return self.fn(labels)

    def __repr__(self) -> str:
        ch = "" if self.channels is None else f", {self.channels} channels"
        return f"Encoder({self.name!r}, {self.space.name}{ch})"


def _space(dataset) -> LabelSpace:
    return dataset if isinstance(dataset, LabelSpace) else label_space(dataset)


def spade(dataset, *, instance: bool = True) -> Encoder:
    """Official SPADE input of ``dataset``: one-hot, don't-care, instance edges (see module)."""
    space = _space(dataset)
    with_instance = space.instance and instance

    def fn(labels):
        return encode_labels(labels, space, with_instance=with_instance)

    return Encoder("spade", space, fn, space.semantic_nc + int(with_instance))


def clade(dataset, *, instance: bool = True) -> Encoder:
    """Official CLADE input: SPADE's (see module; CLADE-ICPE's map is :func:`icpe_map`)."""
    enc = spade(dataset, instance=instance)
    return Encoder("clade", enc.space, enc.fn, enc.channels)


def oasis(dataset) -> Encoder:
    """Official OASIS input of ``dataset``: one-hot, don't-care first where there is one."""
    space = _space(dataset)

    def fn(labels):
        onehot = encode_labels(labels, space, with_instance=False)
        if space.dontcare:  # OASIS feeds label + 1: 255 wraps to channel 0, class k is k + 1
            onehot = torch.cat([onehot[:, -1:], onehot[:, :-1]], 1)
        return onehot

    return Encoder("oasis", space, fn, space.semantic_nc)


def ids(dataset) -> Encoder:
    """The integer label map itself, ids checked against ``dataset`` (a model that encodes its
    own input; the suite's generators)."""
    space = _space(dataset)

    def fn(labels):
        if labels.dim() != 3 or labels.dtype.is_floating_point:
            raise UserError(f"an integer label map must have shape (N, H, W) and an integer "
                            f"dtype; got shape {tuple(labels.shape)} and dtype {labels.dtype}")
        check_label_ids(labels, space)
        return labels

    return Encoder("ids", space, fn, None)


def icpe_map(labels: torch.Tensor) -> torch.Tensor:
    """CLADE's ICPE distance map of each (H, W) map of ``labels`` ((N, H, W) integer):
    (N, 2, H, W) float, on ``labels``' device (:func:`vasis.relative_position.relative_position_code`,
    CLADE ``util/cal_dist_masks.py``)."""
    maps = np.stack([relative_position_code(m) for m in labels.long().cpu().numpy()])
    return torch.from_numpy(maps).float().to(labels.device)


ENCODERS: dict[str, Callable[..., Encoder]] = {"spade": spade, "clade": clade, "oasis": oasis,
                                               "ids": ids}


def encoder(name: str, dataset) -> Encoder:
    """The :data:`ENCODERS` helper ``name`` for ``dataset``; a :class:`UserError` names the
    choices for an unknown name."""
    try:
        make = ENCODERS[str(name).lower()]
    except KeyError:
        raise UserError(f"unknown input convention {name!r}; choose one of "
                        f"{', '.join(ENCODERS)}") from None
    return make(dataset)
