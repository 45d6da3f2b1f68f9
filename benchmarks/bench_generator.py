"""Generator time per iteration: the suite's models vs the official forward passes.

The reference is ``tests/official_reference.py``: an independent functional re-implementation
of each official generator's forward (torch.nn.functional on a state dict in the official
layout). Both run in the same process on the same weights (the suite's generator is
``vasis.load_official`` of that state dict) and the same inputs, eval mode, one thread, denormals
flushed. Timed: forward (no grad) of both, forward + backward of both (gradients w.r.t. all
weights; the reference differentiates through its functional graph), median of ``--repeats``.
Two configurations: the ``scenes`` preset (128x128, ngf 8, hidden 16) and Cityscapes' label space
at a small real resolution (default 128x256, ngf 8, hidden 16).

Run: ``.venv/bin/python benchmarks/bench_generator.py [--batch 2] [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import vasis  # noqa: E402
from official_reference import official_forward, official_spec, random_state_dict  # noqa: E402
from official_reference import label_maps, oasis_input, official_options, spade_input  # noqa: E402
from timing import median_seconds  # noqa: E402

MODELS = ("spade", "clade", "clade-icpe", "oasis", "va-spade", "va-clade", "va-oasis")


def bench(model, dataset, h, w, ngf, hidden, batch, repeats):
    o = official_options(model, dataset, h, w, ngf=ngf, hidden=hidden)
    sd = random_state_dict(official_spec(o), seed=0)
    over = {} if dataset == "scenes" else dict(ngf=ngf, hidden=hidden, height=h, width=w)
    gen = vasis.load_official(sd, model, dataset, **over).eval()
    space = vasis.label_space(dataset)
    label, instance = label_maps(batch, h, w, space.label_nc, space.dontcare, 0)
    z = torch.randn(batch, o.z_dim) if o.z_dim else None
    dist = None
    if model == "clade-icpe":
        dist = torch.stack([vasis.relative_position_code(m) for m in label])
    if o.oasis:
        seg = oasis_input(label, o)
        ours = lambda: gen(label, z=z)  # noqa: E731
    else:
        seg = spade_input(label, instance, o)
        inst = instance if space.instance else None
        ours = lambda: gen(label, relative=dist, instance=inst)  # noqa: E731
    ref = lambda sd_=sd: official_forward(sd_, o, seg, dist=dist, z=z)  # noqa: E731
    with torch.no_grad():
        torch.manual_seed(0)
        a = ours()
        torch.manual_seed(0)
        b = ref()
        err = (a - b).abs().max().item()
        t_fwd = median_seconds(ours, repeats)
        r_fwd = median_seconds(ref, repeats)
    # forward + backward w.r.t. all weights
    sd_g = {k: (v.clone().requires_grad_(True) if v.is_floating_point() and not
                k.endswith(("running_mean", "running_var", "weight_u", "weight_v")) else v)
            for k, v in sd.items()}

    def ours_fb():
        gen.zero_grad(set_to_none=True)
        ours().square().mean().backward()

    def ref_fb():
        for v in sd_g.values():
            v.grad = None
        ref(sd_g).square().mean().backward()

    t_fb = median_seconds(ours_fb, repeats)
    r_fb = median_seconds(ref_fb, repeats)
    return dict(model=model, fwd=t_fwd, ref_fwd=r_fwd, fb=t_fb, ref_fb=r_fb, err=err)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--real", default="cityscapes:128x256:8:16",
                   help="DATASET:HxW:NGF:HIDDEN of the small real-resolution case ('' to skip)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    configs = [("scenes", 128, 128, 8, 16)]
    if args.real:
        d, hw, ngf, hid = args.real.split(":")
        h, w = map(int, hw.split("x"))
        configs.append((d, h, w, int(ngf), int(hid)))
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, "
          f"median of {args.repeats}; ms per iteration; ratio = suite / reference")
    for d, h, w, ngf, hid in configs:
        print(f"\n{d} {h}x{w} ngf {ngf} hidden {hid}")
        print(f"{'model':<11}{'fwd':>9}{'ref fwd':>9}{'ratio':>7}{'fwd+bwd':>10}{'ref f+b':>9}"
              f"{'ratio':>7}{'max|diff|':>11}")
        for m in args.models:
            r = bench(m, d, h, w, ngf, hid, args.batch, args.repeats)
            print(f"{m:<11}{r['fwd'] * 1e3:>9.1f}{r['ref_fwd'] * 1e3:>9.1f}"
                  f"{r['fwd'] / r['ref_fwd']:>7.2f}{r['fb'] * 1e3:>10.1f}{r['ref_fb'] * 1e3:>9.1f}"
                  f"{r['fb'] / r['ref_fb']:>7.2f}{r['err']:>11.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
