"""How well the PHOSA-style fit recovers object poses from masks (issue 15's acceptance), on a dataset's test images.

The person is the ground-truth body (so only the object fit is measured), the masks are the dataset's (person and
visible object; ``--mask full``: the object's whole silhouette alone), the fit is the config's ``phosa`` settings
from random rotations. Printed per image: the rotation error against the truth, and **up to the object's
symmetries** (the smallest error against a symmetric twin of the true pose, :mod:`hoirecon.objects.symmetry`: a box
turned by half a turn has the same silhouette; for a bin only the tilt of its axis counts, for a ball nothing), the
translation error, the silhouette IoU of the fit and that of the true pose in the same square (a fit at least as good
as the truth with a wrong rotation is a pose the mask cannot tell from it); then the share of images below 10
degrees, both ways.

    python tools/analysis/phosa_pose_accuracy.py configs/baselines/phosa_synthetic.py --num-images 16
"""
import argparse
import json
import time

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from tqdm import tqdm

from hoirecon.datasets.transforms.loading import LoadHOIImage
from hoirecon.evaluation.functional.object_pose import rotation_error_deg, symmetric_rotation_error_deg
from hoirecon.models.baselines.phosa import roi_intrinsics
from hoirecon.models.baselines.phosa_reconstructor import sample_intrinsics, sample_masks
from hoirecon.objects import ObjectLibrary
from hoirecon.models.utils.soft_silhouette import hard_silhouette, mask_iou
from hoirecon.objects.symmetry import object_symmetries
from hoirecon.registry import BODY_MODELS, DATASETS, REFINERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a PHOSA config (configs/baselines/phosa_*.py)')
    parser.add_argument('--num-images', type=int, default=16, help='test images to fit')
    parser.add_argument('--stride', type=int, default=0,
                        help='every k-th test image (default: spread the images over the split)')
    parser.add_argument('--mask', choices=('visible', 'full'), default='visible',
                        help="visible: the dataset's person and visible-object masks (the person may hide part of the "
                             "object); full: the object's whole silhouette alone, no person mask")
    parser.add_argument('--out', help='also write the per-image rows and the summary to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def truth_iou(fitter, label: int, K: torch.Tensor, masks, R: np.ndarray, t: np.ndarray) -> float:
    """The silhouette IoU of the true pose in the square where the fit ranks its candidates (the object's square,
    at ``fine_size`` with the fine template when the high-resolution check is on), scored as the fit scores its
    poses (hard silhouette, occlusion-aware IoU): a fit that reaches it with a wrong rotation found a pose the mask
    cannot tell from the truth."""
    tmpl = fitter.template(label)
    fine = fitter.fine_size is not None
    size = fitter.fine_size if fine else fitter.object_size
    prefix = 'fine' if fine else 'render'
    verts, faces = tmpl[f'{prefix}_vertices'], tmpl[f'{prefix}_faces']
    mask, person = (masks.fine_mask, masks.fine_person) if fine else (masks.object_mask, masks.object_person)
    K_obj = roi_intrinsics(K, torch.as_tensor(masks.object_roi)[None], size)
    posed = torch.as_tensor(verts) @ torch.as_tensor(R).T + torch.as_tensor(t)
    covered = hard_silhouette(posed[None], torch.as_tensor(faces), K_obj[0], (size, size))
    as_k = dict(dtype=K_obj.dtype)
    return float(mask_iou(covered, torch.as_tensor(mask, **as_k), torch.as_tensor(person, **as_k), K_obj.dtype)[0])


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'phosa' not in cfg:
        raise ValueError(f'{args.config} has no phosa settings (configs/baselines/phosa_*.py).')
    with DefaultScope.overwrite_default_scope('hoirecon'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        fitter = REFINERS.build(dict(type='PHOSAObjectFitter', **dict(cfg.phosa, show_progress=False)))
        body_cfg = cfg.model.body_model.to_dict()
        bodies = {gender: BODY_MODELS.build(dict(body_cfg, gender=gender)) for gender in ('male', 'female', 'neutral')
                  if body_cfg['type'] != 'SMPLH' or gender != 'neutral'}
    library = ObjectLibrary(**cfg.phosa.object_library)
    stride = args.stride or max(1, len(dataset) // max(1, args.num_images))
    indices = list(range(0, len(dataset), stride))[:args.num_images]
    rows, started = [], time.perf_counter()
    for index in tqdm(indices, desc='PHOSA-style fits', unit='image'):
        sample = dataset[index]['data_samples']
        gt = sample.gt_instances
        body = bodies.get(sample.metainfo.get('gender', 'male'), next(iter(bodies.values())))
        with torch.no_grad():
            human = body(betas=gt.betas, global_orient=gt.global_orient, body_pose=gt.body_pose,
                         transl=gt.transl).vertices.double()
        person, obj = sample_masks(sample)
        if args.mask == 'full':
            loaded = LoadHOIImage(with_masks=True)(dict(dataset.get_data_info(index)))
            person, obj = None, loaded['object_full_mask']
        if obj is None or not obj.any():
            continue
        masks = [fitter.prepare_masks(person, obj)]
        K = sample_intrinsics(sample)[None]
        label = int(gt.object_label[0])
        result = fitter(human, torch.as_tensor(body.faces, dtype=torch.long), torch.as_tensor(body.part_labels),
                        torch.tensor([label]), K, masks, torch.eye(3, dtype=torch.float64)[None],
                        torch.zeros(1, 3, dtype=torch.float64))
        R_gt, t_gt = gt.object_R[0].double().numpy(), gt.object_t[0].double().numpy()
        R, t = result.object_R[0].numpy(), result.object_t[0].numpy()
        template = library.by_index(label)
        symmetries = object_symmetries(template.vertices, template.faces)
        rows.append(dict(index=index, img_id=sample.metainfo.get('img_id'), object=template.name,
                         symmetries=len(symmetries), rotation_deg=rotation_error_deg(R, R_gt),
                         rotation_up_to_symmetry_deg=symmetric_rotation_error_deg(R, R_gt, symmetries),
                         translation_cm=float(100 * np.linalg.norm(t - t_gt)), iou=float(result.iou[0]),
                         truth_iou=truth_iou(fitter, label, K, masks[0], R_gt, t_gt)))
    seconds = time.perf_counter() - started
    summary = dict(config=args.config, mask=args.mask, images=len(rows), seconds_per_image=seconds / max(1, len(rows)),
                   share_below_10_deg=float(np.mean([r['rotation_deg'] < 10 for r in rows])) if rows else None,
                   share_below_10_deg_up_to_symmetry=float(np.mean([r['rotation_up_to_symmetry_deg'] < 10
                                                                    for r in rows])) if rows else None)
    print(f'{"image":>6} {"object":16} {"sym":>4} {"rot deg":>8} {"up to sym":>9} {"transl cm":>9} {"IoU":>5} '
          f'{"truth IoU":>9}')
    for r in rows:
        print(f'{r["index"]:6d} {r["object"]:16} {r["symmetries"]:4d} {r["rotation_deg"]:8.1f} '
              f'{r["rotation_up_to_symmetry_deg"]:9.1f} {r["translation_cm"]:9.1f} {r["iou"]:5.2f} '
              f'{r["truth_iou"]:9.2f}')
    if rows:
        print(f'rotation error < 10 deg: {100 * summary["share_below_10_deg"]:.0f} % of {len(rows)} images; up to '
              f'the objects\' symmetries: {100 * summary["share_below_10_deg_up_to_symmetry"]:.0f} %; '
              f'{summary["seconds_per_image"]:.1f} s per image')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(summary, rows=rows), f, indent=1)
    return dict(summary, rows=rows)


if __name__ == '__main__':
    main()
