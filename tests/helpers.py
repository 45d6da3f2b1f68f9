"""Helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on the path)."""
from pathlib import Path

import torch


def every(values) -> bool:
    """``all(values)`` that fails on an empty selection: a filter that matched nothing would
    make ``all`` true and prove nothing."""
    values = list(values)
    assert values, "the selection is empty"
    return all(values)


def published_layout_fid_state(seed=0):
    """Random weights in the published FID file's layout: torchvision's Inception3 with 1008
    classes and no aux head (what pytorch-fid patches; its blocks keep torchvision's names)."""
    # local: torchvision is heavy; only the FID tests need it
    import torchvision
    torch.manual_seed(seed)
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                          init_weights=False)
    state = net.state_dict()
    for k, v in state.items():
        if k.endswith("running_var"):
            state[k] = torch.rand_like(v) + 0.5
        elif k.endswith("running_mean"):
            state[k] = torch.randn_like(v) * 0.1
    return state


def file_times(root) -> dict[str, int]:
    """{relative path: mtime in ns} of every file under ``root``: equal before and after a
    command when it rewrote nothing."""
    root = Path(root)
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))
            if p.is_file()}
