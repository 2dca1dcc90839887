"""Detect the person keypoints of a dataset split with MediaPipe BlazePose (the ``keypoints`` extra) and write them
as OpenPose BODY_25 JSON files that the dataset reads with ``keypoints_root`` (the refiner's person evidence without
OpenPose):

    pip install -e ".[keypoints]"
    python tools/detect_person_keypoints.py configs/stackflow_synthetic.py --out work_dirs/blazepose_keypoints
    python tools/test.py configs/stackflow_synthetic.py CKPT --refine \\
        --cfg-options test_dataloader.dataset.keypoints_root=work_dirs/blazepose_keypoints

Files: ``<out>/<sequence>/<frame>/k<kinect>.keypoints.json`` = ``{"people": [{"pose_keypoints_2d": [75 floats]}]}``
(``{"people": []}`` where nobody is found). Printed: how many images have a person, and the median pixel distance to
the dataset's own keypoints (where both are confident) as a check.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from tqdm import tqdm


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a config whose dataset is read (e.g. configs/stackflow_synthetic.py)')
    parser.add_argument('--out', required=True, help='folder of the keypoint files')
    parser.add_argument('--split', default='test', choices=('train', 'val', 'test'), help='which dataloader')
    parser.add_argument('--limit', type=int, default=0, help='only the first N images (0: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hoirecon.apis.person_keypoints import detect_body25, detector_available
    if not detector_available():
        raise SystemExit('detect_person_keypoints.py needs the optional keypoint detector (MediaPipe BlazePose, '
                         'its model files inside the wheel): pip install -e ".[keypoints]"')
    from hoirecon.datasets.behave_io import load_image
    from hoirecon.registry import DATASETS
    from hoirecon.structures.file_layout import person_keypoints_file
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg[f'{args.split}_dataloader'].dataset.to_dict()
    dataset_cfg.update(pipeline=[], keypoints_root=None)
    with DefaultScope.overwrite_default_scope('hoirecon'):
        dataset = DATASETS.build(dataset_cfg)
    count = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    found, distances = 0, []
    for index in tqdm(range(count), desc='BlazePose keypoints', unit='image'):
        info = dataset.get_data_info(index)
        keypoints = detect_body25(load_image(info['img_path']))
        people = [] if keypoints is None else [dict(pose_keypoints_2d=keypoints.reshape(-1).round(3).tolist())]
        path = person_keypoints_file(args.out, info['sequence'], info['frame'], info['kinect'])
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(dict(people=people), f)
        if keypoints is None:
            continue
        found += 1
        reference = np.asarray(info['person_kpts'], np.float64)
        both = (keypoints[:, 2] >= 0.5) & (reference[:, 2] >= 0.5)
        distances += np.linalg.norm(keypoints[both, :2] - reference[both, :2], axis=1).tolist()
    summary = dict(images=count, with_person=found, out=args.out,
                   median_px_to_dataset_keypoints=float(np.median(distances)) if distances else None)
    print(f'{found} of {count} images with a person; keypoints written under {args.out}'
          + (f'; median distance to the dataset\'s keypoints {summary["median_px_to_dataset_keypoints"]:.1f} px '
             f'({len(distances)} joints confident in both)' if distances else ''))
    return summary


if __name__ == '__main__':
    main()
