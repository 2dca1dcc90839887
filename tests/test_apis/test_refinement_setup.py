"""`tools/test.py --refine`: the refiner goes into the model and every Chamfer metric gets a before-refinement twin."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from hoirecon.apis import configure_refinement, refinement_table
from hoirecon.evaluation.metrics import HOIChamferMetric
from hoirecon.structures import HOIDataSample

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_refine_flag_adds_the_refiner_and_initial_metric_twins():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic.py'))
    cfg.test_evaluator.out_file = 'work/chamfer_results.json'
    assert not configure_refinement(cfg, refine=False)
    assert isinstance(cfg.test_evaluator, dict)  # untouched without a refiner
    assert configure_refinement(cfg, refine=True)
    assert cfg.model.refiner.type == 'StackFLOWRefiner' and cfg.model.refiner.pixel_scale == 'auto'
    initial, refined = cfg.test_evaluator
    assert initial.pred_field == 'init_instances' and initial.prefix == 'hoi_chamfer_initial'
    assert initial.out_file == 'work/chamfer_results_initial.json'
    assert refined.get('pred_field', 'pred_instances') == 'pred_instances'
    assert refined.out_file == 'work/chamfer_results.json'


def test_refine_without_a_refiner_entry_says_what_to_add():
    cfg = Config(dict(model=dict(type='HOIReconstructor'), test_evaluator=dict(type='HOIChamferMetric')))
    with pytest.raises(KeyError, match='refiners/stackflow_behave.py'):
        configure_refinement(cfg, refine=True)


def test_refinement_table_pairs_before_and_after():
    metrics = {'hoi_chamfer_initial/human_hoi': 6.0, 'hoi_chamfer_initial/object_hoi': 10.0,
               'hoi_chamfer_initial/object_hoi_std': 3.0, 'hoi_chamfer_initial/num_frames': 4,
               'hoi_chamfer/human_hoi': 4.5, 'hoi_chamfer/object_hoi': 8.0, 'hoi_chamfer/object_hoi_std': 2.0}
    table = refinement_table(metrics)
    assert '| human_hoi | 6.00 | 4.50 | -25.0% |' in table and '| object_hoi | 10.00 | 8.00 | -20.0% |' in table
    assert 'std' not in table and 'num_frames' not in table
    assert refinement_table({'hoi_chamfer/human_hoi': 1.0}) == ''


def test_metric_scores_the_chosen_prediction_field():
    rng = np.random.default_rng(0)
    human = rng.normal(0, 0.3, (200, 3))
    faces = np.stack([np.arange(0, 198), np.arange(1, 199), np.arange(2, 200)], axis=1)

    def instances(shift):
        return InstanceData(human_vertices=torch.tensor(human + shift)[None], human_faces=torch.tensor(faces)[None],
                            object_R=torch.eye(3)[None], object_t=torch.tensor([[0., 0., 2.0 + shift]]))

    sample = HOIDataSample(metainfo=dict(img_id='a', object_name='stool'))
    sample.gt_instances, sample.pred_instances, sample.init_instances = instances(0.0), instances(0.0), instances(0.1)
    scores = {}
    for field in ('pred_instances', 'init_instances'):
        metric = HOIChamferMetric(num_samples=500, alignments=('none', ), object_library=dict(dataset='behave'),
                                  pred_field=field)
        metric.process(None, [sample])
        scores[field] = metric.compute_metrics(metric.results)
    assert scores['init_instances']['object_none'] > 5.0 > scores['pred_instances']['object_none']
    metric = HOIChamferMetric(num_samples=500, alignments=('none', ), pred_field='init_instances')
    bare = HOIDataSample(metainfo=dict(img_id='b', object_name='stool'))
    bare.gt_instances, bare.pred_instances = instances(0.0), instances(0.0)
    with pytest.raises(KeyError, match='init_instances'):
        metric.process(None, [bare])


def test_refine_with_a_sequence_refiner_uses_the_sequence_loop_and_scores_three_stages():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic_sequences.py'))
    assert configure_refinement(cfg, refine=False) is False and cfg.model.get('sequence_refiner') is None
    assert configure_refinement(cfg, refine=True)
    sequence = cfg.model.sequence_refiner
    assert sequence.type == 'SequenceSmoothingRefiner' and cfg.test_cfg.type == 'SequenceTestLoop'
    # the per-frame settings of the config's refiner, the sequence settings on top (no second PnP start)
    assert sequence.pixel_scale == cfg.refiner.pixel_scale == 'auto'
    assert sequence.loss_weights == cfg.refiner.loss_weights and cfg.refiner.object_init == 'pnp'
    assert (sequence.steps_per_stage, sequence.lr, sequence.window, sequence.object_init) == (100, 2e-3, 128, None)
    fields = [(m.prefix, m.get('pred_field', 'pred_instances')) for m in cfg.test_evaluator]
    assert fields == [('hoi_seq_w1_initial', 'init_instances'), ('hoi_seq_w1_frame', 'frame_instances'),
                      ('hoi_seq_w10_initial', 'init_instances'), ('hoi_seq_w10_frame', 'frame_instances'),
                      ('hoi_seq_w1', 'pred_instances'), ('hoi_seq_w10', 'pred_instances')]


def test_refinement_table_with_three_stages():
    metrics = {'s_initial/object_hoi': 10.0, 's_frame/object_hoi': 8.0, 's/object_hoi': 7.5,
               's_initial/object_accel': 2.0, 's_frame/object_accel': 6.0, 's/object_accel': 3.0}
    table = refinement_table(metrics)
    assert '| network | post-optimised | smoothed |' in table
    assert '| s/object_hoi | 10.00 | 8.00 | 7.50 | -25.0% |' in table
    assert '| s/object_accel | 2.00 | 6.00 | 3.00 | +50.0% |' in table
