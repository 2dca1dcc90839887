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
