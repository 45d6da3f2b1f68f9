"""Small building blocks shared by every network: padded convs, parameter-free norms, and the
per-pixel maps of the conditional norms (id maps resized, table rows looked up)."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm as _spectral_norm
from torch.nn.utils.spectral_norm import SpectralNorm
from ..errors import UserError

PADDINGS = ("zero", "reflect")
PARAM_FREE_NORMS = ("batch", "syncbatch", "instance")


def conv2d(in_ch: int, out_ch: int, kernel_size: int, *, padding: str = "zero",
           bias: bool = True, spectral: bool = False, stride: int = 1) -> nn.Module:
    """A 'same' conv whose border handling is a switch.

    Reflect padding is the conv's own ``padding_mode`` rather than a separate pad layer, so the
    parameter names are the same for both paddings and a checkpoint loads into either; the
    padding can be swapped later by changing one attribute (see ``analysis.surgery``).
    Spectral norm is torch's classic hook, whose ``weight_orig``/``weight_u``/``weight_v``
    state-dict entries are the official SPADE/OASIS ones.
    """
    if padding not in PADDINGS:
        raise UserError(f"padding must be one of {PADDINGS}, got {padding!r}")
    conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2,
                     bias=bias, padding_mode="reflect" if padding == "reflect" else "zeros")
    return _spectral_norm(conv) if spectral else conv


_SIGMA_ON_OUTPUT = [True]


@contextlib.contextmanager
def spectral_norm_on_weight():
    """Inside, :func:`conv_forward` always runs the module call (torch's hook divides the
    weight by sigma, as the official code does): what ``benchmarks/bench_train_step.py
    --sn-on-weight`` measures the output-side division against."""
    _SIGMA_ON_OUTPUT.append(False)
    try:
        yield
    finally:
        _SIGMA_ON_OUTPUT.pop()


def has_foreign_hooks(module: nn.Module, own_pre_hooks: int = 0) -> bool:
    """Whether a forward hook sees ``module`` besides its own ``own_pre_hooks`` pre-hooks
    (spectral norm's): a module-level or global hook (complexity counters such as ptflops,
    the probes' recorders) must see the module call, so such modules are called, not
    bypassed by a faster functional path."""
    if module._forward_hooks or len(module._forward_pre_hooks) != own_pre_hooks:
        return True
    return bool(nn.modules.module._global_forward_hooks
                or nn.modules.module._global_forward_pre_hooks)


def conv_relu(seq: nn.Module) -> tuple[nn.Conv2d, nn.ReLU] | None:
    """(conv, ReLU) of ``seq`` where it is exactly ``nn.Sequential(nn.Conv2d, nn.ReLU)`` (SPADE's
    ``mlp_shared``), else None."""
    if type(seq) is not nn.Sequential or len(seq._modules) != 2:
        return None
    conv, relu = seq._modules.values()
    if type(conv) is not nn.Conv2d or type(relu) is not nn.ReLU:
        return None
    return conv, relu


def padded_input(conv: nn.Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """(input, padding) for ``F.conv2d`` with ``conv``'s geometry: a non-zero padding mode
    pads the input as the module does and leaves the conv unpadded."""
    if conv.padding_mode == "zeros":
        return x, conv.padding
    return F.pad(x, conv._reversed_padding_repeated_twice, mode=conv.padding_mode), (0, 0)


# On the CPU, oneDNN runs a conv on a channels_last (NHWC) map as it is, while an NCHW map with
# few channels is reordered to its blocked layout and back in every call: at 64 x 64 and more
# (where torch hands batch-1 convs to oneDNN at all) NHWC convs with 8-32 channels are up to
# 2x faster. So the generators run such maps in NHWC without gradients (docs/speed.md).
NHWC_MIN_PIXELS = 64 * 64


def is_nhwc(x: torch.Tensor) -> bool:
    """Whether ``x`` (N, C, H, W) is laid out channels_last and not also plain contiguous."""
    return x.dim() == 4 and not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last)


def working_layout(x: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """``x`` in the layout the generators run it in: channels_last on the CPU without gradients
    where the map, times ``scale`` (an upsampling about to come), has at least NHWC_MIN_PIXELS
    pixels; else as it is. The same maths: only the convs' summation order may differ."""
    if x.device.type != "cpu" or torch.is_grad_enabled() or x.dim() != 4 or \
            x.shape[2] * x.shape[3] * scale * scale < NHWC_MIN_PIXELS:
        return x
    return x.contiguous(memory_format=torch.channels_last)


def resize_nearest(maps: torch.Tensor, size) -> torch.Tensor:
    """``maps`` (..., H, W) resized (nearest) to ``size``: ``F.interpolate(mode='nearest')``,
    or, where ``size`` divides the map, the strided view of every f-th pixel - exactly what
    nearest picks then (source index = output index * f) - without the call."""
    h, w = maps.shape[-2:]
    out_h, out_w = size
    if (out_h, out_w) == (h, w):
        return maps
    if h % out_h == 0 and w % out_w == 0:
        return maps[..., ::h // out_h, ::w // out_w]
    return F.interpolate(maps, size=size, mode="nearest")


# NCHW maps of these widths (inclusive) are upsampled by a broadcast copy (upsample_2x)
COPY_UPSAMPLE_WIDTHS = (8, 32)


def upsample_2x(up: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``up(x)`` for a generator's ``nn.Upsample(scale_factor=2)`` (nearest). Without gradients
    on the CPU, an NCHW map COPY_UPSAMPLE_WIDTHS pixels wide is written through a broadcast
    view that repeats each pixel 2 x 2 - exactly the values nearest gives - since torch's NCHW
    nearest kernel is slower on such maps, up to 8x on wide ones of many channels (faster on
    wider maps, and on tiny ones the copy's fixed cost is more: benchmarks/bench_upsample.py).
    A hooked module (complexity counters) runs."""
    low, high = COPY_UPSAMPLE_WIDTHS
    if x.dim() != 4 or up.scale_factor not in (2, 2.0) or up.mode != "nearest" or \
            has_foreign_hooks(up) or torch.is_grad_enabled() or x.device.type != "cpu" or \
            not low <= x.shape[3] <= high or not x.is_contiguous():
        return up(x)
    n, c, h, w = x.shape
    out = torch.empty(n, c, h, 2, w, 2, dtype=x.dtype, device=x.device)
    out.copy_(x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2))
    return out.view(n, c, 2 * h, 2 * w)


def resize_ids(ids: torch.Tensor, size) -> torch.Tensor:
    """An integer (N, H, W) map resized (nearest) to ``size``: exactly the ids of the map they
    were taken from (class ids: the argmax of a one-hot map) resized alike, since nearest picks
    the same source pixel for every channel; one channel is resized instead of all. Ids stay
    exact in float32 (below 2**24)."""
    h, w = ids.shape[-2:]
    if h % size[0] == 0 and w % size[1] == 0:
        return resize_nearest(ids, size)
    return F.interpolate(ids[:, None].float(), size=size, mode="nearest")[:, 0].long()


def onehot_ids(onehot: torch.Tensor) -> torch.Tensor | None:
    """(N, H, W) ids of a one-hot (N, C, H, W) map - its argmax over the channels - or None
    when the map is not one-hot (soft labels).

    The ids come from a channel sum weighted by the channel index (exact: one non-zero term
    per pixel), which on the CPU is several times faster than ``argmax(1)`` (a reduction
    along a strided dimension)."""
    if onehot.is_meta or onehot.numel() == 0 or onehot.amin() < 0 \
            or not bool((onehot.sum(1) == 1).all()) or not bool((onehot.amax(1) == 1).all()):
        return None   # (a shape-only pass on the meta device has no values to look at)
    index = torch.arange(onehot.shape[1], dtype=onehot.dtype, device=onehot.device)
    return (onehot * index.view(1, -1, 1, 1)).sum(1).long()


def lookup_columns(columns: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W): entry ``ids[n, h, w]`` of each of the ``C`` rows of ``columns`` (C, rows),
    i.e. column ``ids[n, h, w]`` of the table at every pixel, gathered channel by channel so the
    map comes out contiguous in NCHW order (row gathers, as ``F.embedding``, would give NHWC, and
    transposing that costs more than the gather). Differentiable: the backward sums the
    gradient of each table entry."""
    n, h, w = ids.shape
    flat = ids.reshape(n, -1)
    if n == 1:
        return columns.index_select(1, flat[0]).view(1, -1, h, w)
    return _BatchColumnGather.apply(columns, flat).view(n, -1, h, w)


class _BatchColumnGather(torch.autograd.Function):
    """(N, C, P): ``columns.index_select(1, flat[n])`` of each image, gathered straight into its
    slice of one output (stacking separate gathers copies the whole map once more); the
    backward adds every image's gradient into one table gradient."""

    @staticmethod
    def forward(ctx, columns, flat):
        out = columns.new_empty(flat.shape[0], columns.shape[0], flat.shape[1])
        for image, ids in enumerate(flat):
            torch.index_select(columns, 1, ids, out=out[image])
        ctx.save_for_backward(flat)
        ctx.table_rows = columns.shape[1]
        return out

    @staticmethod
    def backward(ctx, grad):
        flat, = ctx.saved_tensors
        grad_columns = grad.new_zeros(grad.shape[1], ctx.table_rows)
        for image, ids in enumerate(flat):
            grad_columns.index_add_(1, ids, grad[image])
        return grad_columns, None


def lookup(table: torch.Tensor, ids: torch.Tensor, nhwc: bool = False) -> torch.Tensor:
    """(N, cols, H, W): row ``ids[n, h, w]`` of ``table`` (rows, cols) at every pixel (the
    official ``F.embedding(ids, table).permute(0, 3, 1, 2)``: the same floats), contiguous;
    with ``nhwc`` channels_last, as that row gather gives it."""
    if nhwc:
        return F.embedding(ids, table).permute(0, 3, 1, 2)
    return lookup_columns(table.t().contiguous(), ids)


def parameter_cached(owner: nn.Module, name: str, tensors, compute):
    """``compute()``, kept on ``owner`` and reused while gradients are off for as long as
    ``tensors`` (every parameter and buffer it reads) hold the same values.

    For values of the parameters alone that generation and evaluation would compute again in
    every forward (the position code's factors). The values are compared in full at each
    call: optimisers change parameters in place, and torch's fused Adam does so without
    bumping their version counters, so only the values tell. Hence only for small inputs
    whose function costs more than comparing them, on the CPU (a comparison on a GPU waits
    for it); with gradients on (training), under autocast or elsewhere, it is computed every
    time."""
    if torch.is_grad_enabled() or torch.is_autocast_enabled("cpu") or \
            any(t.device.type != "cpu" for t in tensors):
        return compute()
    store = owner.__dict__.setdefault("_parameter_cache", {})
    hit = store.get(name)
    if hit is not None and len(hit[0]) == len(tensors) and all(
            a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
            for a, b in zip(hit[0], tensors)):
        return hit[1]
    value = compute()
    store[name] = ([t.detach().clone() for t in tensors], value)
    return value


def _spectral_hook(conv: nn.Module) -> SpectralNorm | None:
    """torch's spectral-norm pre-hook of a plain conv when it is the conv's only hook."""
    if type(conv) is not nn.Conv2d or has_foreign_hooks(conv, own_pre_hooks=1):
        return None
    hook = next(iter(conv._forward_pre_hooks.values()))
    if isinstance(hook, SpectralNorm) and hook.name == "weight" and hook.dim == 0:
        return hook
    return None


def _sigma(conv: nn.Conv2d, hook: SpectralNorm) -> torch.Tensor:
    """sigma = u^T W v after the power iteration, exactly as ``SpectralNorm.compute_weight``
    (the same in-place updates of the ``weight_u`` / ``weight_v`` buffers in train mode)."""
    u, v = conv.weight_u, conv.weight_v
    w_mat = hook.reshape_weight_to_matrix(conv.weight_orig)
    if conv.training:
        with torch.no_grad():
            for _ in range(hook.n_power_iterations):
                v = F.normalize(torch.mv(w_mat.t(), u), dim=0, eps=hook.eps, out=v)
                u = F.normalize(torch.mv(w_mat, v), dim=0, eps=hook.eps, out=u)
            if hook.n_power_iterations > 0:
                u = u.clone(memory_format=torch.contiguous_format)
                v = v.clone(memory_format=torch.contiguous_format)
    return torch.dot(u, torch.mv(w_mat, v))


def conv_forward(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)``; a spectral-norm'd conv runs without its hook's module call, and one whose
    weight has more elements than its output computes ``conv(x, W) / sigma + b`` instead of
    ``conv(x, W / sigma) + b``.

    The same maths (a conv is linear in its weight). torch's hook divides the whole weight by
    sigma in every forward and, with gradients, differentiates that division in the backward
    (a few passes over the weight: grad / sigma, grad * W, their sum); for the wide
    low-resolution blocks (SPADE's 16 ngf convs hold 9 * (16 ngf)^2 weights against outputs of
    a few hundred pixels) those passes cost as much as the conv. Dividing the output touches
    only the output (in place without gradients); the result differs from the hook's at float
    rounding (tests/test_models.py). Elsewhere the weight is divided as the hook divides it
    (the same floats, kept on the module as the hook keeps it) without the module call. sigma
    is the hook's (the same power iteration in train mode, the stored vectors in eval mode).
    Inside :func:`spectral_norm_on_weight` the module call runs."""
    hook = _spectral_hook(conv) if _SIGMA_ON_OUTPUT[-1] else None
    if hook is None or torch.is_autocast_enabled(x.device.type):
        return conv(x)
    w = conv.weight_orig
    # the output's size up to the few pixels a valid conv loses: only which side is cheaper
    out_numel = x.shape[0] * w.shape[0] * x.shape[2] * x.shape[3] // (conv.stride[0] * conv.stride[1])
    sigma = _sigma(conv, hook)
    x, padding = padded_input(conv, x)
    if w.numel() <= out_numel:
        weight = w / sigma
        # kept on the module as the hook keeps it (a plain attribute: no Module.__setattr__)
        conv.__dict__[hook.name] = weight
        return F.conv2d(x, weight, conv.bias, conv.stride, padding, conv.dilation, conv.groups)
    out = F.conv2d(x, w, None, conv.stride, padding, conv.dilation, conv.groups)
    bias = None if conv.bias is None else conv.bias.view(1, -1, 1, 1)
    if not torch.is_grad_enabled():   # no graph to keep: in place, no new buffers
        out.div_(sigma)
        return out if bias is None else out.add_(bias)
    out = out / sigma
    return out if bias is None else out + bias


def run_sequential(seq: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``seq(x)`` with its convs through :func:`conv_forward` (the discriminators keep the
    official ``nn.Sequential`` layout, so their state dicts stay the official ones). A
    Sequential with hooks of its own runs as a module."""
    if has_foreign_hooks(seq):
        return seq(x)
    for layer in seq:
        if type(layer) is nn.Sequential:
            x = run_sequential(layer, x)
        elif type(layer) is nn.Conv2d:
            x = conv_forward(layer, x)
        else:
            x = layer(x)
    return x


class SynchronizedBatchNorm2d(nn.BatchNorm2d):
    """``syncbatch``: the official code's ``SynchronizedBatchNorm2d`` in one process.

    Maths and state dict are exactly ``nn.BatchNorm2d``'s (the official class also just calls
    ``F.batch_norm`` outside DataParallel); the trainer converts it to ``nn.SyncBatchNorm``
    under DistributedDataParallel. It is a class of its own, as in the official code, because
    complexity counters key on exact module types: ptflops counts ``nn.BatchNorm2d`` but not
    the official sync BN, so the papers' MACs (SPADE 281.64 GMac on Cityscapes, not 281.72)
    leave it out, while ``batch`` (a plain ``nn.BatchNorm2d`` there too) is counted.
    """


def _eval_batch_norm(norm: nn.Module) -> bool:
    """A BatchNorm in eval mode on running statistics, with no hook that must see it run."""
    return isinstance(norm, nn.BatchNorm2d) and not norm.training and \
        norm.running_mean is not None and not has_foreign_hooks(norm)


def run_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)``; a BatchNorm in eval mode (and not hooked) as ``F.batch_norm`` on its running
    statistics: what its forward computes there, without the module call's Python."""
    if _eval_batch_norm(norm):
        return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                            False, 0.0, norm.eps)
    return norm(x)


def eval_norm_affine(norm: nn.Module):
    """(scale, shift) per channel with ``norm(x) == x * scale + shift`` up to float rounding: a
    BatchNorm in eval mode (and not hooked) on its running statistics (1 / sqrt(var + eps),
    times the weight if any; the bias minus mean times that); None for any other norm or mode
    (batch statistics depend on x)."""
    if not _eval_batch_norm(norm):
        return None
    scale = (norm.running_var + norm.eps).rsqrt_()
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = (norm.running_mean * scale).neg_()
    return scale, shift if norm.bias is None else norm.bias + shift


def param_free_norm(kind: str, channels: int) -> nn.Module:
    """Normalization without affine parameters; the conditional norm supplies scale and shift."""
    if kind == "syncbatch":
        return SynchronizedBatchNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise UserError(f"param-free norm must be one of {PARAM_FREE_NORMS}, got {kind!r}")
