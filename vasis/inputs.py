"""From integer label maps to the one-hot input the official generators take, with checks."""
from __future__ import annotations

import torch

from .labels import DONTCARE_ID, LabelSpace
from .errors import UserError


def instance_edges(instance: torch.Tensor) -> torch.Tensor:
    """SPADE's edge map: 1 where a pixel's 4-neighbour has another instance id. (N,H,W) -> (N,1,H,W)."""
    t = instance
    edge = torch.zeros_like(t, dtype=torch.bool)
    dw = t[:, :, 1:] != t[:, :, :-1]
    dh = t[:, 1:, :] != t[:, :-1, :]
    edge[:, :, 1:] |= dw
    edge[:, :, :-1] |= dw
    edge[:, 1:, :] |= dh
    edge[:, :-1, :] |= dh
    return edge.unsqueeze(1).float()


def check_label_ids(label: torch.Tensor, space: LabelSpace, source: str = "label map") -> None:
    """Raise a clear error when a label map holds ids the dataset does not have."""
    if label.numel() == 0:
        return
    low, high = torch.aminmax(label)   # one pass for the usual case: every id a class
    if low >= 0 and high < space.label_nc:
        return
    valid = (label >= 0) & (label < space.label_nc)
    if space.dontcare:
        valid |= label == DONTCARE_ID
    if not bool(valid.all()):
        bad = torch.unique(label[~valid]).tolist()[:10]
        allowed = f"0..{space.label_nc - 1}" + (f" and {DONTCARE_ID} (don't care)" if space.dontcare else "")
        raise UserError(
            f"{source} has label ids {bad} outside the {space.name} range {allowed}; "
            f"remap the labels or choose the dataset whose label space they use")


def encode_labels(label: torch.Tensor, space: LabelSpace, instance: torch.Tensor | None = None,
                  with_instance: bool | None = None, return_ids: bool = False):
    """(N, H, W) integer ids -> (N, C, H, W) float input: one-hot, don't-care, instance edges.

    Without an instance map the edge channel (where the label space has one) is all zero,
    i.e. no instance boundaries. ``with_instance=False`` drops the channel (OASIS input).
    ``return_ids``: also return the (N, H, W) channel of each pixel's 1 (the class id, the
    don't-care channel for don't-care pixels): the one-hot part's argmax.
    """
    if label.dim() == 4 and label.shape[1] == 1:
        label = label[:, 0]
    if label.dim() != 3 or label.dtype.is_floating_point:
        raise UserError(
            f"an integer label map must have shape (N, H, W) and an integer dtype; "
            f"got shape {tuple(label.shape)} and dtype {label.dtype}")
    check_label_ids(label, space)
    ids = label.long()
    if space.dontcare:   # the don't-care channel follows the classes
        ids = torch.where(ids == DONTCARE_ID, space.label_nc, ids)
    elif ids is label:   # the ids returned must not be the caller's tensor
        ids = ids.clone()
    onehot = torch.zeros(ids.shape[0], space.semantic_nc, *ids.shape[1:], device=ids.device)
    onehot.scatter_(1, ids.unsqueeze(1), 1.0)
    use_instance = space.instance if with_instance is None else with_instance
    if not use_instance:
        return (onehot, ids) if return_ids else onehot
    if instance is None:
        edges = torch.zeros_like(onehot[:, :1])
    else:
        if instance.dim() == 4:
            instance = instance[:, 0]
        if instance.shape != label.shape:
            raise UserError(f"instance map shape {tuple(instance.shape)} differs from label map "
                             f"shape {tuple(label.shape)}")
        edges = instance_edges(instance.to(ids.device))
    out = torch.cat([onehot, edges], 1)
    return (out, ids) if return_ids else out
