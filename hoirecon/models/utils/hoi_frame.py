"""The HOI frame: StackFLOW's central contract, in one place.

The HOI frame of a person is the body's own frame: the body posed with identity global orientation and zero
translation, moved so that its root joint J0 is at the origin. In the camera (or world) frame that person has the
global orientation ``R_g`` (``hoi_R``) and the posed root joint ``J0`` (``hoi_t``, metres); an object with camera
pose ``(R_obj, t_obj)`` (``x_cam = R_obj x_obj + t_obj``) has the relative pose::

    R_rel = R_g^T R_obj            t_rel = R_g^T (t_obj - J0)          (decompose_object_pose)
    R_obj = R_g R_rel              t_obj = R_g t_rel + J0              (compose_object_pose)

The body model's own ``transl`` parameter is not ``J0``: SMPL rotates about the rest-pose root joint, so
``J0 = rest_root_joint(betas) + transl`` (:func:`body_translation`, :func:`hoi_root`).

Every user goes through these functions: the offset-PCA fitting (:func:`human_anchors_in_hoi_frame`), the training
targets and decoding of :class:`~hoirecon.models.HOIReconstructor`, the refiner, the relation-PCA sample reader and
the synthetic test batch (``tests/test_models/test_hoi_frame.py`` checks that each of them does). Callers import the
module (``from hoirecon.models.utils import hoi_frame``) and call ``hoi_frame.<function>``.
"""
from typing import Tuple

import torch


def root_relative(points: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """Points (B, N, 3) of a body posed with identity orientation, moved so that its root joint ``joints[:, 0]`` is
    the origin: the HOI frame."""
    return points - joints[:, :1]


def body_in_hoi_frame(body_model: torch.nn.Module, betas: torch.Tensor,
                      body_pose: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Vertices (B, V, 3) and joints (B, J, 3) of the body in its HOI frame, metres.

    Args:
        body_model: a hoirecon body model (``SMPL``, ``SMPLH``, ``SMPLX``); hands stay flat.
        betas: (B, <=num_betas) shape coefficients.
        body_pose: (B, J, 3, 3) body joint rotations (21 for SMPL-H / SMPL-X).
    """
    out = body_model(betas=betas, body_pose=body_pose)
    return root_relative(out.vertices, out.joints), root_relative(out.joints, out.joints)


def human_anchors(vertices_rel: torch.Tensor, anchor_indices: torch.Tensor) -> torch.Tensor:
    """(B, A, 3) human anchors: the HOI-frame vertices (B, V, 3) at ``anchor_indices`` (A,)."""
    return vertices_rel[:, anchor_indices.to(vertices_rel.device)]


def human_anchors_in_hoi_frame(body_model: torch.nn.Module, betas: torch.Tensor, body_pose: torch.Tensor,
                               anchor_indices: torch.Tensor) -> torch.Tensor:
    """(B, A, 3) human anchors of bodies posed in the HOI frame (what the offset PCA is fitted on)."""
    vertices_rel, _ = body_in_hoi_frame(body_model, betas, body_pose)
    return human_anchors(vertices_rel, anchor_indices)


def compose_object_pose(hoi_R: torch.Tensor, hoi_t: torch.Tensor, rel_R: torch.Tensor,
                        rel_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Camera-frame object pose ``(R_g R_rel, R_g t_rel + J0)``: (B, 3, 3), (B, 3) from (B, 3, 3), (B, 3) each."""
    return hoi_R @ rel_R, (hoi_R @ rel_t.unsqueeze(-1)).squeeze(-1) + hoi_t


def decompose_object_pose(hoi_R: torch.Tensor, hoi_t: torch.Tensor, object_R: torch.Tensor,
                          object_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Object pose in the HOI frame ``(R_g^T R_obj, R_g^T (t_obj - J0))``: the inverse of
    :func:`compose_object_pose`."""
    rotation_t = hoi_R.transpose(-1, -2)
    return rotation_t @ object_R, (rotation_t @ (object_t - hoi_t).unsqueeze(-1)).squeeze(-1)


def body_translation(body_model: torch.nn.Module, betas: torch.Tensor, hoi_t: torch.Tensor) -> torch.Tensor:
    """The body model's ``transl`` (B, 3) that puts the posed root joint at ``hoi_t``: ``J0 - rest_root_joint``."""
    return hoi_t - body_model.rest_root_joint(betas)


def hoi_root(body_model: torch.nn.Module, betas: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
    """The posed root joint ``J0`` (B, 3) of a body-model fit with ``transl``: ``rest_root_joint + transl``."""
    return body_model.rest_root_joint(betas) + transl


def to_camera(points_rel: torch.Tensor, hoi_R: torch.Tensor, hoi_t: torch.Tensor) -> torch.Tensor:
    """HOI-frame points (B, N, 3) in the camera frame: ``R_g x + J0``."""
    return points_rel @ hoi_R.transpose(-1, -2) + hoi_t.unsqueeze(-2)
