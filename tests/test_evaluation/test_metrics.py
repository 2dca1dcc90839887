import json

import numpy as np
import pytest
import torch
import trimesh
from mmengine.structures import BaseDataElement, InstanceData

from hoirecon.evaluation.functional import evaluate_hoi_frames
from hoirecon.evaluation.metrics import HOIChamferMetric, HOISequenceChamferMetric
from hoirecon.registry import METRICS

NUM_SAMPLES = 500


def mesh_sample(rng, img_id, object_name='boxlarge', visibility=None, **meta):
    """A dict data sample whose prediction and ground truth are given as vertices + faces."""
    body, obj = trimesh.creation.icosphere(subdivisions=2), trimesh.creation.box()
    gt_h = np.asarray(body.vertices) * [0.25, 0.8, 0.15] + [0, 0, 2.5]
    gt_o = np.asarray(obj.vertices) * 0.3 + [0.4, 0.2, 2.5]
    pred_h = gt_h + rng.normal(scale=0.02, size=gt_h.shape)
    pred_o = gt_o + rng.normal(scale=0.03, size=3)
    return dict(img_id=img_id,
                object_name=object_name,
                visibility=visibility,
                **meta,
                pred_instances=dict(human_vertices=pred_h,
                                    human_faces=body.faces,
                                    object_vertices=pred_o,
                                    object_faces=obj.faces),
                gt_instances=dict(human_vertices=gt_h,
                                  human_faces=body.faces,
                                  object_vertices=gt_o,
                                  object_faces=obj.faces))


def direct_scores(samples, **kwargs):
    roles = [(side, part) for side in ('pred_instances', 'gt_instances') for part in ('human', 'object')]
    meshes = [[(s[side][f'{part}_vertices'], s[side][f'{part}_faces']) for s in samples] for side, part in roles]
    return evaluate_hoi_frames(*meshes,
                               num_samples=NUM_SAMPLES,
                               seed=7,
                               frame_keys=[s['img_id'] for s in samples],
                               **kwargs)


def test_registered_and_scores_like_the_functional_core(tmp_path):
    rng = np.random.default_rng(0)
    samples = [mesh_sample(rng, f'img{i}', ['boxlarge', 'chairwood'][i % 2], [0.9, 0.1, 0.5][i % 3]) for i in range(6)]
    out_file = tmp_path / 'scores.json'
    metric = METRICS.build(dict(type='HOIChamferMetric', num_samples=NUM_SAMPLES, out_file=str(out_file)))
    metric.process(None, samples[:4])
    metric.process(None, samples[4:])
    metrics = metric.evaluate(6)

    expected = direct_scores(samples)
    assert metrics['hoi_chamfer/human_hoi'] == pytest.approx(expected.chamfer_cm['hoi']['human'].mean(), rel=1e-12)
    assert metrics['hoi_chamfer/object_none_std'] == pytest.approx(expected.chamfer_cm['none']['object'].std(),
                                                                   rel=1e-12)
    visible = np.array([0.9, 0.1, 0.5, 0.9, 0.1, 0.5]) >= 0.3
    assert metrics['hoi_chamfer/object_smpl_vis0.3'] == pytest.approx(
        expected.chamfer_cm['smpl']['object'][visible].mean(), rel=1e-12)
    assert metrics['hoi_chamfer/num_frames'] == 6 and metrics['hoi_chamfer/num_skipped'] == 0

    saved = json.loads(out_file.read_text())
    assert saved['protocol']['num_samples'] == NUM_SAMPLES and saved['protocol']['seed'] == 7
    assert saved['protocol']['surrogate_body'] is None  # meshes were given, no body model used
    assert [f['img_id'] for f in saved['frames']] == [s['img_id'] for s in samples]
    assert saved['frames'][2]['chamfer_cm']['hoi']['human'] == pytest.approx(expected.chamfer_cm['hoi']['human'][2])
    chair = saved['summary']['per_category']['chairwood']['all']
    assert chair['num_frames'] == 3
    assert chair['none']['human']['mean'] == pytest.approx(expected.chamfer_cm['none']['human'][1::2].mean())


def test_missing_and_non_finite_frames_are_skipped_and_counted():
    rng = np.random.default_rng(1)
    good = mesh_sample(rng, 'good')
    no_pred = dict(mesh_sample(rng, 'no_pred'), pred_instances=None)
    nan_gt = mesh_sample(rng, 'nan_gt')
    nan_gt['gt_instances']['object_vertices'] = np.full((8, 3), np.nan)
    missing_field = mesh_sample(rng, 'no_object')
    del missing_field['pred_instances']['object_vertices']
    collapsed = mesh_sample(rng, 'collapsed')  # e.g. a degenerate rotation scaled the body to a point
    collapsed['pred_instances']['human_vertices'] = np.zeros_like(collapsed['pred_instances']['human_vertices'])
    metric = HOIChamferMetric(num_samples=NUM_SAMPLES)
    metric.process(None, [good, no_pred, nan_gt, missing_field, collapsed])
    results = {r['img_id']: r for r in metric.results}
    assert results['no_pred']['skipped'] == 'missing prediction'
    assert results['nan_gt']['skipped'] == 'non-finite ground truth'
    assert 'object_vertices' in results['no_object']['skipped']
    assert results['collapsed']['skipped'] == 'degenerate prediction mesh (zero or non-finite surface area)'
    metrics = metric.evaluate(5)
    assert metrics['hoi_chamfer/num_frames'] == 1 and metrics['hoi_chamfer/num_skipped'] == 4
    assert metrics['hoi_chamfer/human_hoi'] == pytest.approx(direct_scores([good]).chamfer_cm['hoi']['human'][0])


def test_kinect_selection_and_base_data_elements():
    rng = np.random.default_rng(2)
    samples = []
    for i, kinect in enumerate([0, 1, 2, 1]):
        raw = mesh_sample(rng, f'img{i}', kinect=kinect)
        element = BaseDataElement(metainfo={k: raw[k] for k in ('img_id', 'object_name', 'kinect')})
        # InstanceData keeps a leading instance dimension of 1: the metric drops it.
        element.pred_instances = InstanceData(**{
            k: torch.as_tensor(np.asarray(v))[None]
            for k, v in raw['pred_instances'].items()
        })
        element.gt_instances = InstanceData(**{
            k: torch.as_tensor(np.asarray(v))[None]
            for k, v in raw['gt_instances'].items()
        })
        samples.append((element, raw))
    metric = HOIChamferMetric(num_samples=NUM_SAMPLES, kinects=[1])
    metric.process(None, [element for element, _ in samples])
    assert [r['img_id'] for r in metric.results] == ['img1', 'img3']
    expected = direct_scores([samples[1][1], samples[3][1]])
    assert [r['chamfer_cm']['hoi']['object']
            for r in metric.results] == pytest.approx(expected.chamfer_cm['hoi']['object'].tolist(), rel=1e-12)
    assert metric.protocol()['frame_selection'] == 'kinects [1]'


def test_parametric_predictions_use_the_body_model_and_object_library(surrogate_body_root):
    from hoirecon.models.body_models import SMPLH
    from hoirecon.objects import ObjectLibrary
    rng = np.random.default_rng(3)
    eye = np.eye(3, dtype=np.float32)
    gt = dict(betas=np.zeros((1, 10), np.float32),
              global_orient=eye[None],
              body_pose=np.tile(eye, (1, 21, 1, 1)),
              transl=np.array([[0, 0.1, 2.5]], np.float32),
              object_R=eye[None],
              object_t=np.array([[0.3, 0, 2.4]], np.float32))
    pred = dict(gt,
                betas=rng.normal(scale=0.5, size=(1, 10)).astype(np.float32),
                transl=np.array([[0.02, 0.1, 2.6]], np.float32),
                object_t=np.array([[0.35, 0, 2.3]], np.float32))
    sample = dict(img_id='p0', object_name='chairwood', gender='male', pred_instances=pred, gt_instances=gt)
    metric = HOIChamferMetric(num_samples=NUM_SAMPLES,
                              body_model=dict(type='SMPLH', model_path=surrogate_body_root, gender='male'),
                              object_library=dict(dataset='behave'))
    metric.process(None, [sample])
    assert metric.protocol()['surrogate_body'] is True

    body = SMPLH(model_path=surrogate_body_root, gender='male')
    template = ObjectLibrary('behave')['chairwood']
    meshes = []
    for params in (pred, gt):
        with torch.no_grad():
            out = body(**{k: torch.from_numpy(params[k]) for k in ('betas', 'global_orient', 'body_pose', 'transl')})
        meshes.append(
            dict(human_vertices=out.vertices[0].double().numpy(),
                 human_faces=body.faces,
                 object_vertices=template.posed(params['object_R'][0], params['object_t'][0]),
                 object_faces=template.faces))
    expected = direct_scores([dict(img_id='p0', pred_instances=meshes[0], gt_instances=meshes[1])])
    for alignment, parts in expected.chamfer_cm.items():
        for part, values in parts.items():
            assert metric.results[0]['chamfer_cm'][alignment][part] == pytest.approx(values[0], rel=1e-6)


def test_parametric_sample_without_body_model_explains_the_fix():
    sample = dict(img_id='x',
                  object_name='chairwood',
                  pred_instances=dict(betas=np.zeros(10),
                                      global_orient=np.eye(3),
                                      body_pose=np.zeros((21, 3, 3)),
                                      transl=np.zeros(3),
                                      object_R=np.eye(3),
                                      object_t=np.zeros(3)),
                  gt_instances=None)
    with pytest.raises(ValueError, match='object_library'):
        HOIChamferMetric(num_samples=NUM_SAMPLES).process(None, [sample])


@pytest.mark.parametrize('mode', ['sliding', 'chunk'])
def test_sequence_metric_groups_orders_and_windows(mode):
    rng = np.random.default_rng(4)
    sequences = {
        name: [mesh_sample(rng, f'{name}_{t:03d}', sequence=name, frame=f't{t:04d}.000') for t in range(5)]
        for name in ('seqA', 'seqB')
    }
    shuffled = sequences['seqB'][::-1] + sequences['seqA'][2:] + sequences['seqA'][:2]
    metric = HOISequenceChamferMetric(window=3, window_mode=mode, num_samples=NUM_SAMPLES, alignments=('hoi', ))
    metric.process(None, shuffled[:6])
    metric.process(None, shuffled[6:])
    metrics = metric.evaluate(10)
    expected = np.concatenate([
        direct_scores(frames, window=3, window_mode=mode, alignments=('hoi', )).chamfer_cm['hoi']['human']
        for frames in sequences.values()
    ])
    assert metrics['hoi_seq_chamfer/human_hoi'] == pytest.approx(expected.mean(), rel=1e-12)
    assert metrics['hoi_seq_chamfer/num_frames'] == 10


def test_sequence_metric_with_window_one_equals_the_frame_metric():
    rng = np.random.default_rng(5)
    samples = [mesh_sample(rng, f's_{t}', sequence='s', frame=t) for t in range(4)]
    frame_metric, seq_metric = HOIChamferMetric(num_samples=NUM_SAMPLES), HOISequenceChamferMetric(
        window=1, num_samples=NUM_SAMPLES)
    for metric in (frame_metric, seq_metric):
        metric.process(None, samples)
    frame_scores, seq_scores = frame_metric.evaluate(4), seq_metric.evaluate(4)
    assert seq_scores['hoi_seq_chamfer/object_hoi'] == pytest.approx(frame_scores['hoi_chamfer/object_hoi'], rel=1e-12)
    with pytest.raises(ValueError, match="has no 'sequence'"):
        seq_metric.process(None, [mesh_sample(rng, 'lonely', frame=0)])
        seq_metric.evaluate(1)
