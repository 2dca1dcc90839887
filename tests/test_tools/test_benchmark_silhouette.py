"""tools/analysis/benchmark_silhouette.py: the row-span scanline gives the same masks as the dense reference (every
face against every row) and nearly those of the thresholded soft silhouette."""
from hoirecon.testing.tools import load_tool


def test_masks_agree_with_both_references():
    rows = load_tool('analysis/benchmark_silhouette').main(['--sizes', '24', '40', '--faces', '0', '120',
                                                           '--poses', '6', '--soft-poses', '2'])
    assert [r['size'] for r in rows] == [24, 40] and rows[1]['faces'] <= 120 < rows[0]['faces']
    for row in rows:
        assert row['pixels'] > 0 and row['dense_mismatch'] == 0
        assert row['soft_mismatch'] <= 0.05 * row['pixels']
        assert row['hard_ms'] > 0 and row['dense_ms'] > 0 and row['soft_ms'] > 0


def test_row_spans_match_the_dense_rows_on_random_meshes_and_ties():
    """Random triangle soups, half of them with vertices on pixel centres and rows (where the half-open crossing rule
    decides), some faces behind the camera: the row-span scanline and the dense reference agree on every pixel, for
    any chunking."""
    import torch

    from hoirecon.models.utils.soft_silhouette import hard_silhouette
    dense = load_tool('analysis/benchmark_silhouette').dense_rows_silhouette
    gen = torch.Generator().manual_seed(0)
    K = torch.tensor([[20.0, 0, 15.5], [0, 20.0, 15.5], [0, 0, 1]], dtype=torch.float64)
    for trial in range(40):
        verts = torch.randn(4, 30, 3, generator=gen, dtype=torch.float64) * 0.5
        verts[..., 2] += 2.0
        if trial % 2:
            verts = verts.round(decimals=1)  # x 20 px / m: pixel coordinates on integers and half-integers
        if trial % 5 == 0:
            verts[0, :4, 2] = -1.0
        faces = torch.randint(0, 30, (40, 3), generator=gen)
        reference = dense(verts, faces, K, 32)
        assert torch.equal(hard_silhouette(verts, faces, K, (32, 32)), reference)
        assert torch.equal(hard_silhouette(verts, faces, K, (32, 32), max_chunk_elements=1), reference)
