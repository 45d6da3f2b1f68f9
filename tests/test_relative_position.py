import cv2
import numpy as np
import pytest
import torch

from vasis.relative_position import relative_position_code


def reference(label_map):
    """Per-component implementation following CLADE's cal_dist_masks.py."""
    h, w = label_map.shape
    out = np.zeros((2, h, w), dtype=np.float32)
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    for class_id in np.unique(label_map):
        if class_id == 0:
            continue
        n, labels, _, centroids = cv2.connectedComponentsWithStats((label_map == class_id).astype(np.uint8))
        for k in range(1, n):
            inside = (labels == k).astype(np.float32)
            dh = (rows - centroids[k][1]) * inside
            dw = (cols - centroids[k][0]) * inside
            out[0] += dh / np.max(np.abs(dh) + 1e-5)
            out[1] += dw / np.max(np.abs(dw) + 1e-5)
    return out


def blob_map(rng, h, w, n_classes=8, scale=6):
    low = rng.normal(size=(-(-h // scale), -(-w // scale), n_classes)).astype(np.float32)
    field = cv2.resize(cv2.GaussianBlur(low, (3, 3), 0.8), (w, h), interpolation=cv2.INTER_LINEAR)
    return rng.permutation(n_classes)[field.argmax(-1)].astype(np.int64)


def test_hand_computed_row():
    # One component, cols 1..3, centroid col 2: w offsets -1, 0, 1 over (1 + 1e-5).
    out = relative_position_code(np.array([[0, 5, 5, 5]]))
    assert out.shape == (2, 1, 4) and out.dtype == np.float32
    d = 1 + 1e-5
    np.testing.assert_array_equal(out[1], np.float32([[0, -1 / d, 0, 1 / d]]))
    np.testing.assert_array_equal(out[0], np.zeros((1, 4), np.float32))  # single row: h offset 0


def test_hand_computed_3x3():
    # Class 1 is an L shape: pixels (0,0), (1,0), (2,0), (2,1), (2,2).
    # Centroid row = 7/5 = 1.4, col = 3/5 = 0.6; max |dr| = 1.4, max |dc| = 1.4.
    m = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 1]], dtype=np.uint8)
    out = relative_position_code(m)
    d = 1.4 + 1e-5
    rows, cols = np.nonzero(m)
    np.testing.assert_allclose(out[0][rows, cols], (rows - 1.4) / d, atol=1e-6)
    np.testing.assert_allclose(out[1][rows, cols], (cols - 0.6) / d, atol=1e-6)
    assert np.all(out[:, m == 0] == 0)


def test_separate_components_have_separate_centroids():
    # Two 1x2 blocks of class 3 separated by background: each gets -1, +1.
    out = relative_position_code(np.array([[3, 3, 0, 0, 3, 3]]))
    d = 0.5 + 1e-5
    np.testing.assert_allclose(out[1, 0], [-0.5 / d, 0.5 / d, 0, 0, -0.5 / d, 0.5 / d], atol=1e-7)


def test_diagonal_neighbours_are_one_component():
    # 8-connectivity: the diagonal of 2s is one component centred at (1, 1).
    m = np.array([[2, 1, 1], [1, 2, 1], [1, 1, 2]])
    out = relative_position_code(m)
    d = 1 + 1e-5
    np.testing.assert_allclose(np.diag(out[0]), [-1 / d, 0, 1 / d], atol=1e-7)
    np.testing.assert_allclose(np.diag(out[1]), [-1 / d, 0, 1 / d], atol=1e-7)
    np.testing.assert_array_equal(out, reference(m))  # the 1s crossing it are one component too


def test_label_zero_gives_zeros():
    np.testing.assert_array_equal(relative_position_code(np.zeros((4, 5), np.int32)), np.zeros((2, 4, 5)))
    m = np.random.default_rng(0).integers(0, 3, (20, 30))
    out = relative_position_code(m)
    assert np.all(out[:, m == 0] == 0) and np.all(np.abs(out) < 1)


def test_torch_tensor_in_tensor_out():
    m = blob_map(np.random.default_rng(1), 24, 40)
    out = relative_position_code(torch.from_numpy(m))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 24, 40)
    assert out.device == torch.device("cpu")
    np.testing.assert_array_equal(out.numpy(), relative_position_code(m))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_tensor_stays_on_device():
    out = relative_position_code(torch.ones(4, 4, dtype=torch.long, device="cuda"))
    assert out.device.type == "cuda" and out.dtype == torch.float32


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((1, 4, 4), np.int64), r"shape \(H, W\).*\(1, 4, 4\)"),
        (np.zeros(5, np.int64), r"shape \(H, W\).*\(5,\)"),
        (torch.zeros(1, 4, 4, dtype=torch.long), r"shape \(H, W\).*\(1, 4, 4\)"),
        (np.zeros((4, 4), np.float32), "integer.*float32"),
        (np.zeros((4, 4), bool), "integer.*bool"),
        (torch.zeros(4, 4), "integer.*torch.float32"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        relative_position_code(bad)


def test_empty_map():
    assert relative_position_code(np.zeros((0, 7), np.uint8)).shape == (2, 0, 7)


@pytest.mark.parametrize("seed", range(6))
def test_matches_per_component_reference_on_blob_maps(seed):
    rng = np.random.default_rng(seed)
    m = blob_map(rng, int(rng.integers(20, 70)), int(rng.integers(20, 90)))
    np.testing.assert_array_equal(relative_position_code(m), reference(m))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint64, np.int64])
def test_matches_reference_on_noise_and_dtypes(dtype):
    rng = np.random.default_rng(7)
    m = rng.integers(0, 4, (17, 23))
    expected = reference(m)
    ids = np.array([0, 1, 100, 127], dtype=dtype)  # value-independent: only equality matters
    np.testing.assert_array_equal(relative_position_code(ids[m]), expected)
    # Huge / negative ids exercise the sorting path for class ids.
    if dtype == np.int64:
        np.testing.assert_array_equal(relative_position_code(np.array([0, -3, 2**40, -(2**50)])[m]), expected)
    if dtype == np.uint64:
        np.testing.assert_array_equal(relative_position_code(np.array([0, 1, 2**63 + 5, 2**64 - 1], np.uint64)[m]), expected)
