import pytest
import torch

from analysis import layouts


def test_one_and_two_class():
    m = layouts.one_class("sky", dataset="scenes")
    assert m.shape == (128, 128) and m.dtype == torch.long and (m == 1).all()
    t = layouts.two_class("sky", "road", dataset="cityscapes")  # the Figure-2 map
    assert t.shape == (256, 512)
    assert (t[:128] == 23).all() and (t[128:] == 7).all()
    v = layouts.two_class(2, 3, orientation="vertical", position=0.25, dataset="scenes", size=(8, 8))
    assert (v[:, :2] == 2).all() and (v[:, 2:] == 3).all()


@pytest.mark.parametrize("dataset,name,idx", [("cityscapes", "road", 7), ("ade20k", "wall", 1),
                                              ("coco-stuff", "grass", 123), ("scenes", "water", 6)])
def test_names_all_datasets(dataset, name, idx):
    assert layouts.resolve_class(name, dataset) == idx
    assert layouts.resolve_class(name.upper(), dataset) == idx
    assert int(layouts.one_class(name, dataset=dataset, size=4)[0, 0]) == idx


def test_box_and_series():
    b = layouts.box("tree", "sky", box_size=(2, 4), center=(0.5, 0.5), dataset="scenes", size=(8, 8))
    assert (b[3:5, 2:6] == 4).all() and int((b == 4).sum()) == 8 and int((b == 1).sum()) == 56
    s = layouts.boundary_series("sky", "road", [0.25, 0.5, 0.75], dataset="scenes", size=(4, 8))
    assert s.shape == (3, 4, 8)
    assert [int((x == 1).sum(1)[0]) for x in s] == [2, 4, 6]
    bs = layouts.box_series(4, 1, [(0.25, 0.25), (0.75, 0.75)], box_size=2, dataset="scenes", size=8)
    assert bs.shape == (2, 8, 8) and [int((x == 4).sum()) for x in bs] == [4, 4]
    assert layouts.stack(b, b[None]).shape == (2, 8, 8)
    with pytest.raises(ValueError, match="different sizes"):
        layouts.stack(b, s)


def test_errors():
    with pytest.raises(ValueError, match="Did you mean"):
        layouts.one_class("skyy", dataset="cityscapes")
    with pytest.raises(ValueError, match="out of range"):
        layouts.one_class(35, dataset="cityscapes")
    with pytest.raises(ValueError, match="out of range"):
        layouts.one_class(-1, dataset="scenes")
    with pytest.raises(ValueError, match="dataset"):
        layouts.one_class("sky")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        layouts.two_class("sky", "road", position=1.0, dataset="scenes")
    with pytest.raises(ValueError, match="empty"):
        layouts.two_class("sky", "road", position=0.01, dataset="scenes", size=8)
    with pytest.raises(ValueError, match="two different"):
        layouts.two_class("sky", 1, dataset="scenes")
    # The message names the classes as given (not only the id) and both ways to one class.
    with pytest.raises(ValueError, match=r"got 'sky', both class id 1 .*one_class\(\).*--layout one-class"):
        layouts.two_class("sky", "sky", dataset="scenes")
    with pytest.raises(ValueError, match=r"got 'sky' and 1, both class id 1"):
        layouts.box("sky", 1, dataset="scenes")
    with pytest.raises(ValueError, match="does not fit"):
        layouts.box("tree", "sky", box_size=200, dataset="scenes")
    with pytest.raises(ValueError, match="outside"):
        layouts.box("tree", "sky", box_size=64, center=(0.1, 0.5), dataset="scenes")
    with pytest.raises(ValueError, match="orientation"):
        layouts.two_class("sky", "road", orientation="diagonal", dataset="scenes")
