"""Training-iteration time and peak memory: the suite's trainer step vs an official-style step.

CPU (default): side by side in one process, per model. The suite's iteration is
``vasis.train.loop.iteration`` (the step the trainer runs: G step, then D step with a fresh fake,
Adam with TTUR, hinge + feature matching for the SPADE family, OASIS's N+1 + LabelMix and its
EMA for the OASIS family). The reference iteration is the same two steps written in the official
code's order around ``tests/official_reference.py``'s functional official generator in train mode
(batch-statistics BN, one spectral-norm power iteration per forward) on an official-layout
state dict: the same initial weights (the suite's generator is ``vasis.load_official`` of it),
the same loss functions (``vasis.losses``), plain ``torch.optim.Adam`` (the official optimiser,
default for-loop implementation) and the official input encoding per step. The discriminator is
the suite's module on both sides (two copies with the same initial weights; its layers are the
official ones): the reference's runs inside ``vasis.models.layers.spectral_norm_on_weight``,
so its spectral-norm convs divide their weights by sigma as torch's hook (and the official
code) does, while the suite's divide wide convs' outputs (``conv_forward``).
Timing alternates suite and reference, median of ``--repeats``. Peak memory: the peak of the
tensor memory one iteration allocates beyond what was held before it, in MiB, from
torch.profiler's memory records (see :func:`peak_rise_mib`; separate, untimed iterations).

Settings (``--setting``):
* ``issue``: Cityscapes label space (36 input channels), 64x128 (crop 128, ``normal``
  upsampling), ngf = ndf = 64 (OASIS: channels_d 64), batch 1, VGG off, 2 threads. A whole
  iteration takes seconds here: ``--ngf 16`` gives a quick run (ndf follows ngf).
* ``scenes``: the ``scenes`` preset (128x128, ngf 8, hidden 16), batch 1; also times the
  generator forward alone on integer label maps (the per-call input handling); with
  ``--per-square-too`` also with the label branch's second step per square only (what its
  per-pixel form gains).
* ``main-job``: what ``run_analysis.py main`` trains (``analysis/main_train.py``): the ``scenes``
  preset with ngf 8, batch 4 (the scenes recipe), SPADE and VA-SPADE.

CUDA (``--device cuda``): the suite only, at the paper's resolutions (Cityscapes 256x512,
ADE20K and COCO-Stuff 256x256, batch 1), each model in five variants - fp32, ``amp`` (fp16
autocast + GradScaler), ``channels_last``, ``compile`` (torch.compile of G and D),
``label_patches`` (SPADE's label branch per distinct label square, which is on by default on
the CPU only: ``vasis.models.label_patches.using``) - printing
it/s and peak allocated memory (``torch.cuda.max_memory_allocated``) as a table and writing
``--json``. ``--budget-s`` (default 280) stops starting new cases once spent, so the command
stays within 5 minutes; skipped cases are listed.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_train_step.py [--setting issue] [--ngf 16]
[--repeats 3] [--models spade clade] [--sn-on-weight] [--keep-freed-memory]
[--per-square-too]`` or ``... --device cuda --json bench_cuda.json``.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # the memory profiler's start/stop lines
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import vasis  # noqa: E402
from official_reference import (oasis_input, official_forward, official_spec,  # noqa: E402
                                random_state_dict, spade_input)
from official_reference import label_maps, official_options  # noqa: E402
from vasis.allocator import keep_freed_memory  # noqa: E402
from vasis.losses import (loss_config, oasis_discriminator_losses,  # noqa: E402
                          oasis_dontcare_channel, oasis_generator_losses,
                          spade_discriminator_losses, spade_generator_losses)
from vasis.models import label_patches  # noqa: E402
from vasis.models.layers import spectral_norm_on_weight  # noqa: E402
from vasis.presets import build_discriminator, build_generator  # noqa: E402
from vasis.train.distributed import DistEnv  # noqa: E402
from vasis.train.ema import new_ema, update_ema  # noqa: E402
from vasis.train.loop import StepContext, iteration  # noqa: E402
from vasis.train.recipes import recipe  # noqa: E402
from vasis.train.speed import SpeedOptions, apply_speed  # noqa: E402

MODELS = ("spade", "clade", "va-spade", "oasis", "va-oasis")
SETTINGS = {
    # dataset, height, width, ngf, hidden, batch, generator overrides, models
    "issue": ("cityscapes", 64, 128, 64, 128, 1, {"num_upsampling_layers": "normal"}, MODELS),
    "scenes": ("scenes", 128, 128, 8, 16, 1, {}, MODELS),
    "main-job": ("scenes", 128, 128, 8, 16, 4, {}, ("spade", "va-spade")),
}
# VA-OASIS's first block runs valid 3x3 convs and reflect-pads their output back: its first
# map (H/32 x W/32) must be at least 4 px high, else the official code fails as well.
MIN_SIZE = {"va-oasis": (128, 256)}
TRAINABLE_SKIP = ("running_mean", "running_var", "num_batches_tracked", "weight_u", "weight_v")


# ------------------------------------------------------------------------------ measuring
def peak_rise_mib(fn) -> float:
    """Peak of the memory ``fn()`` allocates on top of what was allocated before it (MiB).

    From torch.profiler's memory records (``profile_memory=True``): every op's allocations net
    of its frees, and the frees recorded outside ops, summed in time order; the peak of that
    running sum. Memory an op allocates and frees within itself is not seen (a lower bound).

    ``fn`` runs twice under the profiler and the second run is measured: the profiler drops
    the frees of blocks allocated before its first session ("memory block of unknown size"),
    so a first session counts, e.g., the previous step's gradients (freed by ``zero_grad``) as
    still held, inflating the peak by about the gradients' size."""
    saved = os.dup(2)  # the profiler's own start/stop lines go to stderr: hide them
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        for _ in range(2):
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage),
                    key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak / 2 ** 20


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def alternate(fns: dict, repeats: int, clock: str = "wall", block: int = 1) -> dict:
    """Median seconds per call of each callable, run in turn (a, b, a, b, ...) after one warm-up
    block each; each turn times ``block`` calls in a row.

    ``clock='cpu'`` counts the process's CPU time instead of wall time: on a machine shared
    with other jobs it does not count the time the scheduler gives them (use it with one
    thread; with more, idle worker threads' spinning is counted too). ``block`` > 1 measures
    each side in its steady state, as a user calling one generator again and again sees it:
    a turn right after the other side's pays for the memory that side left the allocator in
    (page faults on tensors of other sizes; 1-3 ms of a 30 ms forward here)."""
    now = CLOCKS[clock]
    for fn in fns.values():
        for _ in range(block):
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            if block > 1:
                fn()   # the turn's first call settles this side's buffers, untimed
            t = now()
            for _ in range(block):
                fn()
            times[k].append((now() - t) / block)
    return {k: statistics.median(v) for k, v in times.items()}


# ------------------------------------------------------------------------------ the sides
def _official(model, dataset, h, w, ngf, hidden, gen_over):
    o = official_options(model, dataset, h, w, ngf=ngf, hidden=hidden)
    if gen_over.get("num_upsampling_layers") == "normal":
        o.num_up = 5
    o.training = True
    return o


def _batch(model, dataset, h, w, batch, seed=0):
    space = vasis.label_space(dataset)
    label, instance = label_maps(batch, h, w, space.label_nc, space.dontcare, seed)
    g = torch.Generator().manual_seed(seed + 1)
    out = {"label": label, "image": torch.rand(batch, 3, h, w, generator=g) * 2 - 1}
    if space.instance and model not in ("oasis", "va-oasis"):
        out["instance"] = instance
    return out


class Case:
    """One model at one setting: the suite's step context and the reference's state."""

    def __init__(self, model, setting, ngf=None, suite_options=None):
        dataset, h, w, ngf0, hidden, batch, gen_over, _ = SETTINGS[setting]
        if h < MIN_SIZE.get(model, (0, 0))[0]:
            h, w = MIN_SIZE[model]
        ngf = ngf or ngf0
        self.model, self.dataset, self.h, self.w = model, dataset, h, w
        self.oasis = model in ("oasis", "va-oasis")
        self.o = _official(model, dataset, h, w, ngf, hidden, gen_over)
        sd = random_state_dict(official_spec(self.o), seed=0)
        over = dict(gen_over)
        if dataset != "scenes" or ngf != ngf0 or (h, w) != SETTINGS[setting][1:3]:
            over.update(ngf=ngf, hidden=hidden, height=h, width=w)
        self.gen_over = over
        self.g = vasis.load_official(copy.deepcopy(sd), model, dataset, **over).train()
        d_over = {"height": h, "width": w}
        d_over.update({"channels_d": ngf} if self.oasis else {"ndf": ngf})
        if dataset == "scenes" and ngf == ngf0 and (h, w) == SETTINGS[setting][1:3]:
            d_over = {}
        torch.manual_seed(1)
        self.d = build_discriminator(model, dataset, **d_over)
        self.d_ref = copy.deepcopy(self.d)
        r = recipe(model, "cityscapes" if dataset == "cityscapes" else dataset)
        self.r = r
        self.loss_cfg = loss_config(model, dataset, lambda_vgg=0.0)
        self.dontcare = oasis_dontcare_channel(dataset) if self.oasis else None
        self.batch = _batch(model, dataset, h, w, batch)
        self.space = vasis.label_space(dataset)
        # suite
        self.ctx = self._context(self.g, self.d, suite_options or {})
        # reference: trainable leaves of the official-layout state dict
        self.sd = {k: (v.clone().requires_grad_(True)
                       if v.is_floating_point() and not k.endswith(TRAINABLE_SKIP) else v.clone())
                   for k, v in sd.items()}
        params = [v for v in self.sd.values() if v.requires_grad]
        self.ref_opt_g = torch.optim.Adam(params, lr=r.lr_g, betas=(r.beta1, r.beta2))
        self.ref_opt_d = torch.optim.Adam(self.d_ref.parameters(), lr=r.lr_d, betas=(r.beta1, r.beta2))
        self.ref_ema = ({k: v.detach().clone() for k, v in self.sd.items()}
                        if self.oasis and r.ema_decay is not None else None)
        self.z_dim = self.o.z_dim
        self.step = 0

    def _context(self, g, d, options):
        r = self.r
        sp = SpeedOptions(**options)
        env = DistEnv()
        opt_g = torch.optim.Adam(g.parameters(), lr=r.lr_g, betas=(r.beta1, r.beta2),
                                 **sp.adam_kwargs(env.device))
        opt_d = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=(r.beta1, r.beta2),
                                 **sp.adam_kwargs(env.device))
        gw, dw = apply_speed(g, d, sp)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        ema = new_ema(g) if self.oasis and r.ema_decay is not None else None
        return StepContext(family=r.family, space=self.space, g=gw, d=dw, g_raw=g, opt_g=opt_g,
                           opt_d=opt_d, scaler_g=scaler, scaler_d=scaler,
                           loss_cfg=self.loss_cfg, env=env, ema=ema, ema_decay=r.ema_decay,
                           dontcare_channel=self.dontcare, amp_dtype=sp.amp_dtype(env.device),
                           channels_last=sp.channels_last)

    # -- one iteration each
    def suite_step(self):
        self.step += 1
        return iteration(self.ctx, self.batch, self.step)

    def suite_step_sn_on_weight(self):
        """The suite's step with torch's spectral-norm hook on every conv (weight / sigma)."""
        with spectral_norm_on_weight():
            return self.suite_step()

    def _ref_input(self):
        b = self.batch
        if self.oasis:
            return oasis_input(b["label"], self.o)
        return spade_input(b["label"], b.get("instance"), self.o)

    def _ref_g(self, seg):
        z = torch.randn(seg.shape[0], self.z_dim) if self.z_dim else None
        return official_forward(self.sd, self.o, seg, z=z)

    def ref_step(self):
        """The official order: G step (fake, D on fake/real, G losses, update), then the D step
        on a fake regenerated without a graph; OASIS then updates its EMA key by key. The D
        runs torch's spectral-norm hook (weight / sigma), as the official code."""
        with spectral_norm_on_weight():
            self._ref_step()

    def _ref_step(self):
        seg = self._ref_input()
        real = self.batch["image"]
        n = real.shape[0]
        d, opt_g, opt_d = self.d_ref, self.ref_opt_g, self.ref_opt_d
        opt_g.zero_grad(set_to_none=True)
        fake = self._ref_g(seg)
        if self.oasis:
            g_losses = oasis_generator_losses(d(fake), seg, self.loss_cfg, self.dontcare)
        else:
            pred = d(torch.cat([torch.cat([seg, fake], 1), torch.cat([seg, real], 1)], 0))
            pf = [[f[:n] for f in s] for s in pred]
            pr = [[f[n:] for f in s] for s in pred]
            g_losses = spade_generator_losses(pf, pr, self.loss_cfg)
        [float(v.detach()) for v in g_losses.values()]  # the official loss logging
        sum(g_losses.values()).backward()
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = self._ref_g(seg).detach()
        if self.oasis:
            d_losses = oasis_discriminator_losses(d, real, fake, seg, self.loss_cfg, self.dontcare)
        else:
            pred = d(torch.cat([torch.cat([seg, fake], 1), torch.cat([seg, real], 1)], 0))
            pf = [[f[:n] for f in s] for s in pred]
            pr = [[f[n:] for f in s] for s in pred]
            d_losses = spade_discriminator_losses(pf, pr)
        [float(v.detach()) for v in d_losses.values()]
        sum(d_losses.values()).backward()
        opt_d.step()
        if self.ref_ema is not None:
            decay = self.r.ema_decay
            with torch.no_grad():
                for k, v in self.ref_ema.items():
                    v.copy_(v * decay + self.sd[k].detach() * (1 - decay))

    # -- generator forward alone (integer label maps in, as a user calls it), eval mode
    @contextlib.contextmanager
    def forward_fns(self):
        """(suite, reference) no-grad eval-mode forwards from integer label maps; each side
        includes its input encoding (the suite's checks + one-hot, the official one-hot).
        Inside, the suite's generator is in eval mode (switched once: a mode switch walks
        every module and is no part of a forward)."""
        g = self.g
        b = self.batch
        o = dataclasses.replace(self.o, training=False)
        z = torch.randn(b["label"].shape[0], self.z_dim) if self.z_dim else None
        if self.oasis:
            call = lambda: g(b["label"], z=z)  # noqa: E731
        else:
            call = lambda: g(b["label"], instance=b.get("instance"))  # noqa: E731

        def ours():
            with torch.no_grad():
                call()

        def ref():
            with torch.no_grad():
                official_forward(self.sd, o, self._ref_input(), z=z)
        g.eval()
        try:
            yield ours, ref
        finally:
            g.train()


def per_square_only(fn):
    """``fn`` run with the label branch's second step per distinct square only (its per-pixel
    form off, and the convs' lower bound back at the per-square one): the suite as it was
    before that form, to measure what it gains in the same process."""
    def run():
        saved = label_patches.PIXEL_TABLE_BYTES, label_patches.PIXEL_MIN_CONV_MACS
        label_patches.PIXEL_TABLE_BYTES = 0
        label_patches.PIXEL_MIN_CONV_MACS = label_patches.MIN_CONV_MACS
        try:
            return fn()
        finally:
            label_patches.PIXEL_TABLE_BYTES, label_patches.PIXEL_MIN_CONV_MACS = saved
    return run


# ------------------------------------------------------------------------------ CPU report
def _fmt_mem(v):
    return "-" if v is None else f"{v:.0f}"


def run_cpu(args) -> int:
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.keep_freed_memory and not keep_freed_memory():
        print("--keep-freed-memory: the C library is not glibc; its defaults stay")
    dataset, h, w, ngf0, hidden, batch, _, models = SETTINGS[args.setting]
    models = args.models or models
    ngf = args.ngf or ngf0
    print(f"torch {torch.__version__}, {args.threads} thread(s), setting {args.setting}: "
          f"{dataset} {h}x{w}, ngf {ngf}, batch {batch}; {args.clock} clock, median of "
          f"{args.repeats}, suite and "
          f"reference alternating; ms per iteration; ratio = reference / suite (> 1: suite "
          f"faster); peak = peak tensor memory of one iteration beyond the held state, MiB "
          f"(torch.profiler); C allocator: "
          f"{'keeps freed memory' if args.keep_freed_memory else 'glibc defaults'}")
    if args.fast:
        print(f"suite with the opt-in {', '.join(args.fast)} (not the reference's fp32 maths)")
    head = f"{'model':<10}{'suite':>9}{'ref':>9}{'ratio':>7}{'peak':>7}{'ref pk':>7}"
    if args.sn_on_weight:
        head += f"{'sn-on-w':>9}{'gain':>7}"
    if args.setting == "scenes":
        head += f"{'G fwd':>8}{'ref fwd':>8}{'ratio':>7}"
        if args.per_square_too:
            head += f"{'sq fwd':>8}{'gain':>7}"
    print(head)
    rows = []
    for m in models:
        case = Case(m, args.setting, args.ngf, {k: True for k in args.fast})
        sides = {"suite": case.suite_step, "ref": case.ref_step}
        if args.sn_on_weight:
            sides["sn_w"] = case.suite_step_sn_on_weight
        t = alternate(sides, args.repeats, args.clock)
        mem_s = peak_rise_mib(case.suite_step)
        mem_r = peak_rise_mib(case.ref_step)
        row = dict(model=m, size=[case.h, case.w], suite_ms=t["suite"] * 1e3, ref_ms=t["ref"] * 1e3,
                   ratio=t["ref"] / t["suite"], suite_peak_mib=mem_s, ref_peak_mib=mem_r)
        if (case.h, case.w) != (h, w):
            m = f"{m}@{case.h}x{case.w}"
        line = (f"{m:<10}{row['suite_ms']:>9.1f}{row['ref_ms']:>9.1f}{row['ratio']:>7.2f}"
                f"{_fmt_mem(mem_s):>7}{_fmt_mem(mem_r):>7}")
        if args.sn_on_weight:
            row.update(sn_on_weight_ms=t["sn_w"] * 1e3, sn_gain=t["sn_w"] / t["suite"])
            line += f"{row['sn_on_weight_ms']:>9.1f}{row['sn_gain']:>7.2f}"
        if args.setting == "scenes":
            with case.forward_fns() as (ours, ref):
                sides = {"suite": ours, "ref": ref}
                if args.per_square_too:
                    sides["sq"] = per_square_only(ours)
                f = alternate(sides, max(args.repeats, 5), args.clock, block=8)
            row.update(fwd_ms=f["suite"] * 1e3, ref_fwd_ms=f["ref"] * 1e3,
                       fwd_ratio=f["ref"] / f["suite"])
            line += f"{row['fwd_ms']:>8.1f}{row['ref_fwd_ms']:>8.1f}{row['fwd_ratio']:>7.2f}"
            if args.per_square_too:
                row.update(sq_fwd_ms=f["sq"] * 1e3, per_pixel_gain=f["sq"] / f["suite"])
                line += f"{row['sq_fwd_ms']:>8.1f}{row['per_pixel_gain']:>7.2f}"
        print(line, flush=True)
        rows.append(row)
        del case
    if args.json:
        Path(args.json).write_text(json.dumps({"setting": args.setting, "ngf": ngf,
                                               "threads": args.threads, "rows": rows}, indent=1))
    return 0


# ------------------------------------------------------------------------------ CUDA report
CUDA_CASES = (("cityscapes", 256, 512), ("ade20k", 256, 256), ("coco-stuff", 256, 256))
VARIANTS = {"fp32": {}, "amp": {"amp": True}, "channels_last": {"channels_last": True},
            "compile": {"compile": True},
            # SPADE's label branch per distinct label square, on by default on the CPU only
            "label_patches": {"label_patches": True}}


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _cuda_case(model, dataset, h, w, options, warmup, iters, device="cuda", g_over=None,
               d_over=None):
    """(it/s, peak MiB) of ``iters`` suite iterations after ``warmup``; ``device``, ``g_over``
    and ``d_over`` let a CPU smoke run use the same code at tiny widths."""
    options = dict(options)
    devices = ("cpu", torch.device(device).type) if options.pop("label_patches", False) else ("cpu",)
    with label_patches.using(devices):
        return _timed_case(model, dataset, h, w, options, warmup, iters, device, g_over, d_over)


def _timed_case(model, dataset, h, w, options, warmup, iters, device, g_over, d_over):
    dev = torch.device(device)
    torch.manual_seed(0)
    g = build_generator(model, dataset, height=h, width=w, **(g_over or {})).to(dev).train()
    d = build_discriminator(model, dataset, height=h, width=w, **(d_over or {})).to(dev)
    r = recipe(model, dataset)
    sp = SpeedOptions(**options)
    env = DistEnv(device=dev)
    opt_g = torch.optim.Adam(g.parameters(), lr=r.lr_g, betas=(r.beta1, r.beta2),
                             **sp.adam_kwargs(dev))
    opt_d = torch.optim.Adam(d.parameters(), lr=r.lr_d, betas=(r.beta1, r.beta2),
                             **sp.adam_kwargs(dev))
    gw, dw = apply_speed(g, d, sp)
    oasis = model in ("oasis", "va-oasis")
    ctx = StepContext(family=r.family, space=vasis.label_space(dataset), g=gw, d=dw, g_raw=g,
                      opt_g=opt_g, opt_d=opt_d,
                      scaler_g=torch.amp.GradScaler(dev.type, enabled=sp.uses_scaler(dev)),
                      scaler_d=torch.amp.GradScaler(dev.type, enabled=sp.uses_scaler(dev)),
                      loss_cfg=loss_config(model, dataset, lambda_vgg=0.0), env=env,
                      ema=new_ema(g) if oasis else None, ema_decay=r.ema_decay,
                      dontcare_channel=oasis_dontcare_channel(dataset) if oasis else None,
                      amp_dtype=sp.amp_dtype(dev), channels_last=sp.channels_last)
    batch = _batch(model, dataset, h, w, 1)
    for i in range(warmup):
        iteration(ctx, batch, i + 1)
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for i in range(iters):
        iteration(ctx, batch, warmup + i + 1)
    _sync(dev)
    dt = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if dev.type == "cuda" else float("nan")
    return iters / dt, peak


def run_cuda(args) -> int:
    if not torch.cuda.is_available():
        print("error: --device cuda needs a CUDA GPU (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name()
    models = args.models or MODELS
    variants = args.variants
    print(f"torch {torch.__version__}, {name}, batch 1, warm-up {args.warmup}, timed "
          f"{args.iters} iterations; it/s and peak allocated MiB")
    print(f"{'model':<10}{'dataset':<12}" + "".join(f"{v + ' it/s':>18}{'MiB':>8}" for v in variants))
    start = time.perf_counter()
    rows, skipped = [], []
    for dataset, h, w in CUDA_CASES:
        for m in models:
            line = f"{m:<10}{dataset:<12}"
            for v in variants:
                if time.perf_counter() - start > args.budget_s:
                    skipped.append(f"{m}/{dataset}/{v}")
                    line += f"{'skipped':>18}{'':>8}"
                    continue
                try:
                    its, mib = _cuda_case(m, dataset, h, w, VARIANTS[v], args.warmup, args.iters)
                    rows.append(dict(model=m, dataset=dataset, size=[h, w], variant=v,
                                     it_per_s=its, peak_mib=mib))
                    line += f"{its:>18.2f}{mib:>8.0f}"
                except Exception as err:  # one failing variant must not hide the others
                    rows.append(dict(model=m, dataset=dataset, size=[h, w], variant=v,
                                     error=f"{type(err).__name__}: {err}"[:300]))
                    line += f"{'error':>18}{'':>8}"
                torch.cuda.empty_cache()
            print(line, flush=True)
    if skipped:
        print(f"budget of {args.budget_s:.0f} s spent; skipped: {', '.join(skipped)}")
    out = {"date": time.strftime("%Y-%m-%d"), "gpu": name, "torch": torch.__version__,
           "warmup": args.warmup, "iters": args.iters, "rows": rows, "skipped": skipped}
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--setting", choices=tuple(SETTINGS), default="issue", help="CPU setting")
    p.add_argument("--models", nargs="+", choices=MODELS, default=None)
    p.add_argument("--ngf", type=int, default=None,
                   help="CPU: generator width (ndf / channels_d follow it); smaller is quicker")
    p.add_argument("--repeats", type=int, default=2, help="CPU: timed iterations per side")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="CPU: 'cpu' = process CPU time (steadier on a shared machine; use "
                        "--threads 1)")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="CPU: glibc keeps freed memory for reuse (vasis.allocator, as "
                        "run_analysis.py runs), for both sides: no page faults on fresh tensors, "
                        "whose number depends on what the other side left the allocator in")
    p.add_argument("--per-square-too", action="store_true",
                   help="CPU, --setting scenes: also time the G forward with the label branch's "
                        "second step per square only (sq fwd); gain = that time / the suite's")
    p.add_argument("--fast", nargs="+", default=[], choices=("amp", "channels_last", "compile"),
                   help="CPU: run the suite side with these opt-in fast paths")
    p.add_argument("--sn-on-weight", action="store_true",
                   help="CPU: also time the suite with torch's spectral-norm hook on every conv "
                        "(weight / sigma, as the official code); gain = that time / the suite's")
    p.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    p.add_argument("--warmup", type=int, default=3, help="CUDA: untimed iterations per case")
    p.add_argument("--iters", type=int, default=5, help="CUDA: timed iterations per case")
    p.add_argument("--budget-s", type=float, default=280.0,
                   help="CUDA: start no new case after this many seconds")
    p.add_argument("--json", default=None, help="write the results here (CUDA default: "
                                                "bench_train_step_cuda.json)")
    args = p.parse_args(argv)
    if args.device == "cuda":
        args.json = args.json or "bench_train_step_cuda.json"
        return run_cuda(args)
    return run_cpu(args)


if __name__ == "__main__":
    sys.exit(main())
