"""Small, self-consistent HOI batches for model tests (no dataset on disk).

Every target is computed from one random ground truth with the same geometry the
dataset pipeline uses: a body posed by the body model, an object of the library
placed relative to the body, a pinhole camera looking at them, and a square crop
around the projected joints. Losses of a model fed its own ground truth are
therefore exactly zero where the maths is exact, which makes the batch useful
to test reconstructors without images that mean anything.
"""
from typing import List, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData

from hoirecon.models.utils import axis_angle_to_matrix, hoi_frame, perspective_project, to_crop_coords
from hoirecon.structures import HOIDataSample

NUM_OBJECT_KEYPOINTS = 16


def make_hoi_batch(body_model,
                   object_library,
                   batch_size: int = 2,
                   crop_size: int = 64,
                   object_names: Tuple[str, ...] = ('stool', 'boxmedium'),
                   seed: int = 0,
                   num_correspondences: int = 0) -> Tuple[torch.Tensor, List[HOIDataSample]]:
    """A batch of random uint8 crops and data samples with consistent ground truth.

    Args:
        body_model: hoirecon body model (e.g. surrogate ``SMPLH``).
        object_library: :class:`hoirecon.objects.ObjectLibrary`; labels are its indices.
        batch_size: B.
        crop_size: side of the square crops, pixels.
        object_names: objects used in turn.
        seed: random seed.
        num_correspondences: if > 0, also fill ``observations`` with noise-free detector outputs: ``person_kpts``
            (1, 25, 3) = the projected BODY_25 joints of the true body with confidence 0.9, and ``corr_x3d`` /
            ``corr_x2d`` / ``corr_w2d`` (1, N, .) = N template vertices and their projections, weight 1.

    Returns:
        ``inputs`` (B, 3, crop, crop) uint8 and B :class:`HOIDataSample` with ``gt_instances`` (betas, global_orient,
        body_pose, transl, hoi_R, hoi_t, object_R, object_t, rel_R, rel_t, object_label, joints_3d, joints_2d,
        object_kpts_3d / _2d / _weights) and metainfo (img_id, object_name, cam_K, box_center, box_size, focal,
        principal).
    """
    gen = torch.Generator().manual_seed(seed)
    betas = 0.5 * torch.randn(batch_size, 10, generator=gen)
    global_orient = axis_angle_to_matrix(torch.tensor([np.pi, 0., 0.]) + 0.2 * torch.randn(batch_size, 3, generator=gen))
    body_pose = axis_angle_to_matrix(0.15 * torch.randn(batch_size, 21, 3, generator=gen))
    hoi_t = torch.tensor([0., 0.2, 2.5]) + 0.1 * torch.randn(batch_size, 3, generator=gen)
    rel_R = axis_angle_to_matrix(0.5 * torch.randn(batch_size, 3, generator=gen))
    rel_t = torch.tensor([0., -0.1, 0.4]) + 0.1 * torch.randn(batch_size, 3, generator=gen)
    object_R, object_t = hoi_frame.compose_object_pose(global_orient, hoi_t, rel_R, rel_t)

    with torch.no_grad():
        rest = body_model(betas=betas, body_pose=body_pose)
    joints_rel = hoi_frame.root_relative(rest.joints[:, :22], rest.joints)
    joints_3d = hoi_frame.to_camera(joints_rel, global_orient, hoi_t)
    transl = hoi_frame.body_translation(body_model, betas, hoi_t)

    focal = torch.tensor([500., 500.]).expand(batch_size, 2)
    principal = torch.tensor([256., 192.]).expand(batch_size, 2)
    joints_px = perspective_project(joints_3d, focal, principal)
    if num_correspondences:
        with torch.no_grad():
            posed = body_model(betas=betas, global_orient=global_orient, body_pose=body_pose, transl=transl)
        body25_px = perspective_project(body_model.body25(posed.vertices), focal, principal)
    box_center = 0.5 * (joints_px.amin(1) + joints_px.amax(1))
    box_size = 1.2 * (joints_px.amax(1) - joints_px.amin(1)).amax(1) + 40.0

    samples = []
    for i in range(batch_size):
        name = object_names[i % len(object_names)]
        template = object_library[name]
        kpts = np.zeros((NUM_OBJECT_KEYPOINTS, 3))
        weights = np.zeros(NUM_OBJECT_KEYPOINTS)
        kpts[:len(template.keypoints)] = template.keypoints
        weights[:len(template.keypoints)] = 1.0
        kpts = torch.as_tensor(kpts, dtype=torch.float32)[None]
        kpts_cam = kpts @ object_R[i:i + 1].transpose(1, 2) + object_t[i:i + 1, None]
        kpts_px = perspective_project(kpts_cam, focal[i:i + 1], principal[i:i + 1])

        def crop(points_px, i=i):
            return to_crop_coords(points_px, box_center[i:i + 1], box_size[i:i + 1])

        gt = InstanceData(
            betas=betas[i:i + 1], global_orient=global_orient[i:i + 1], body_pose=body_pose[i:i + 1],
            transl=transl[i:i + 1], hoi_R=global_orient[i:i + 1], hoi_t=hoi_t[i:i + 1], object_R=object_R[i:i + 1],
            object_t=object_t[i:i + 1], rel_R=rel_R[i:i + 1], rel_t=rel_t[i:i + 1],
            object_label=torch.tensor([object_library.index(name)]), joints_3d=joints_3d[i:i + 1],
            joints_2d=crop(joints_px[i:i + 1]), object_kpts_3d=kpts, object_kpts_2d=crop(kpts_px),
            object_kpts_weights=torch.as_tensor(weights, dtype=torch.float32)[None])
        cam_K = np.array([[500., 0, 256.], [0, 500., 192.], [0, 0, 1]])
        sample = HOIDataSample(metainfo=dict(img_id=f'toy_{seed}_{i}', object_name=name, cam_K=cam_K,
                                             box_center=box_center[i].numpy(), box_size=float(box_size[i]),
                                             focal=focal[i].numpy(), principal=principal[i].numpy()))
        sample.gt_instances = gt
        if num_correspondences:
            vertices = torch.as_tensor(template.vertices, dtype=torch.float32)
            x3d = vertices[torch.linspace(0, len(vertices) - 1, num_correspondences).round().long()][None]
            x2d = perspective_project(x3d @ object_R[i:i + 1].transpose(1, 2) + object_t[i:i + 1, None],
                                      focal[i:i + 1], principal[i:i + 1])
            sample.observations = InstanceData(
                person_kpts=torch.cat([body25_px[i:i + 1], torch.full((1, 25, 1), 0.9)], dim=2), corr_x3d=x3d,
                corr_x2d=x2d, corr_w2d=torch.ones(1, num_correspondences, 2))
        samples.append(sample)
    inputs = torch.randint(0, 256, (batch_size, 3, crop_size, crop_size), generator=gen, dtype=torch.uint8)
    return inputs, samples
