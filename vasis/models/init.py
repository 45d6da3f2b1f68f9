"""The official weight initialisation of SPADE, CLADE, OASIS and VASIS networks."""
from __future__ import annotations

import torch.nn as nn


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """xavier_normal(gain) on every conv/linear weight, zero biases (SPADE's 'xavier', OASIS's init).

    Two deliberate differences from the official VASIS code, which runs this after building
    the norms: the per-class tables and position codes keep their own init (as there), and the
    position convs stay zero (the official xavier pass overwrites their zero init, so the
    position code does not start as the identity modulation the layer was written to start
    from; we keep the layer's intent, see README "Deviations").
    """
    for name, module in net.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        if name.rsplit(".", 1)[-1] in ("conv_pos_gamma", "conv_pos_beta"):
            continue
        weight = getattr(module, "weight_orig", module.weight)
        nn.init.xavier_normal_(weight.data, gain=gain)
        if module.bias is not None:
            nn.init.zeros_(module.bias.data)
    return net
