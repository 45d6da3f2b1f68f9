"""The one seeded generation routine (vasis.train.generate.seeded_samples / sample_images)."""
import torch

import vasis
from analysis.study import TINY
from vasis.train.generate import EncodedBatches, batches_of, sample_images, sample_seed


def test_sample_k_follows_the_formula_and_leaves_the_callers_stream():
    torch.manual_seed(0)
    gen = vasis.build_generator("va-spade", "scenes", height=64, width=64, **TINY).eval()
    labels = torch.randint(0, 7, (3, 64, 64))
    batches = EncodedBatches(gen, labels, batch_size=2)
    assert len(batches) == 2 and batches[1].shape[0] == 1
    torch.manual_seed(123)
    before = torch.get_rng_state()
    two = sample_images(gen, batches, 2, seed=5)
    assert torch.equal(torch.get_rng_state(), before)        # the caller's stream is untouched
    one = sample_images(gen, batches, 1, seed=5)
    assert torch.equal(two[0], one[0])                       # sample 0 does not depend on S
    assert not torch.equal(two[0], two[1])                   # VA-SPADE: samples differ
    # sample 1 by hand: seed * 1009 + 1, then the batches in order on one stream
    with torch.no_grad():
        torch.manual_seed(sample_seed(5, 1))
        want = torch.cat([gen(batches[0]), gen(batches[1])]).clamp(-1, 1)
    assert sample_seed(5, 1) == 5 * 1009 + 1 and torch.equal(two[1], want)
    # label maps straight in (the generator encodes them) give the same images
    assert torch.equal(sample_images(gen, batches_of(labels, 2), 2, seed=5), two)
