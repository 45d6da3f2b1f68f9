"""Must hold: the probes work the same on a model loaded with ``vasis.load_official``.

A state dict in the official SPADE layout (built from the official key list, not from our
modules) is saved as a checkpoint file; probing it through the CLI must give exactly the
statistics of probing the same weights in a preset model, and the paper's padding claim must
hold on it after surgery.
"""
import json

import pandas as pd
import torch

import analysis
import vasis
from analysis.study import TINY
from official_reference import official_options, official_spec, random_state_dict
from vasis_suite.cli import main



def official_checkpoint(tmp_path, model="spade"):
    o = official_options(model, "scenes", 128, 128, **TINY)
    sd = random_state_dict(official_spec(o), seed=3)
    path = tmp_path / "latest_net_G.pth"
    torch.save(sd, path)
    return path, sd


def test_probe_cli_on_official_checkpoint_equals_probe_of_same_weights(tmp_path, capsys):
    path, sd = official_checkpoint(tmp_path)
    rc = main(["probe", "--checkpoint", str(path), "--model", "spade", "--layout", "two-class",
               "--samples", "2", "--format", "json", "--ngf", "4", "--hidden", "8"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    cli = pd.DataFrame(json.loads(out))

    gen = vasis.build_generator("spade", "scenes", **TINY)
    gen.load_state_dict(vasis.load_official(sd, "spade", "scenes", **TINY).state_dict())
    layout = analysis.two_class("sky", "ground", dataset="scenes")
    direct = analysis.probe(gen.eval(), {"two-class": layout}, samples=2, model="spade", bn="eval")

    key = ["block", "statistic", "class"]
    merged = cli[cli.channel.isna()].merge(direct[direct.channel.isna()], on=key,
                                           suffixes=("_cli", "_direct"))
    assert len(merged) == len(direct[direct.channel.isna()]) > 0
    assert torch.allclose(torch.tensor(merged.value_cli.values, dtype=torch.float64),
                          torch.tensor(merged.value_direct.values, dtype=torch.float64),
                          rtol=1e-5, atol=1e-12)


def test_surgery_on_official_weights_reproduces_the_padding_claim(tmp_path):
    _, sd = official_checkpoint(tmp_path)
    gen = vasis.load_official(sd, "spade", "scenes", **TINY)
    sky = {"sky": analysis.one_class("sky", dataset="scenes")}
    frames = {pad: analysis.probe(analysis.swap_padding(gen, pad), sky, samples=2, bn="eval")
              for pad in ("zero", "reflect")}
    for pad, frame in frames.items():
        whole = frame[frame["class"].isna() & frame.channel.isna()]
        rel = (whole[whole.statistic == "spatial_std"].set_index("block").value
               / whole[whole.statistic == "rms"].set_index("block").value)
        if pad == "reflect":
            assert (rel < 1e-5).all(), rel
        else:
            assert (rel > 1e-3).all(), rel
