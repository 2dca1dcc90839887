"""Test-time fitting to CHORE-style fields (the start of step 2, docs/chore.md "Left"): the object pose and the body
are optimised so that the predicted fields agree with them.

A *field function* maps (B, N, 3) camera-frame points to the raw fields of :meth:`CHOREFieldNet.query`: ``udf``
(B, N, 2) metres (human, object), ``parts`` (B, N, P) logits, ``centre_offset`` (B, N, 3), ``object_rot6d``
(B, N, 6). :func:`network_field_fn` makes one from a trained network and a batch; the tests use exact fields of known
meshes. Everything is batched over images and differentiable in the points, so the losses reach the pose parameters.
"""
from typing import Callable, Dict, List, Optional, Union

import torch
import torch.nn.functional as F

from hoirecon.models.refiners.reprojection import keypoint_reprojection_loss
from hoirecon.models.utils import axis_angle_to_matrix
from .field_net import rot6d_to_matrix

FieldFn = Callable[[torch.Tensor], Dict[str, torch.Tensor]]


def network_field_fn(model, inputs, samples: List) -> FieldFn:
    """The fields of a :class:`~hoirecon.models.chore.CHOREFieldNet` for one batch (encoded once), as a function of
    the query points (gradients flow to the points; the network's parameters are not trained)."""
    maps = [m.detach() for m in model.encode(inputs)]
    device = maps[0].device
    meta = model.crop_meta(samples, device)
    img_size = (inputs[0] if isinstance(inputs, (list, tuple)) else inputs).shape[-1]

    def fields(points: torch.Tensor) -> Dict[str, torch.Tensor]:
        return model.query(maps, points, meta, img_size)

    return fields


def _step(optimiser: torch.optim.Optimizer, loss: torch.Tensor, params: List[torch.Tensor]) -> None:
    """One optimiser step on ``params`` only (``autograd.grad``: the network's parameters collect no gradient)."""
    for param, grad in zip(params, torch.autograd.grad(loss, params)):
        param.grad = grad
    optimiser.step()


def fit_object(field_fn: FieldFn, template_points: torch.Tensor, R0: torch.Tensor, t0: torch.Tensor,
               steps: int = 100, lr: float = 0.01, vote_centre: Optional[torch.Tensor] = None,
               vote_R: Optional[torch.Tensor] = None, w_udf: float = 1.0, w_centre: float = 0.1,
               w_rotation: float = 0.01, scale: Optional[torch.Tensor] = None,
               contact_points: Optional[torch.Tensor] = None, contact_weight: Optional[torch.Tensor] = None,
               w_contact: float = 0.0, mask_term: Optional[Callable[..., torch.Tensor]] = None,
               w_mask: float = 0.0, mask_steps: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Object pose ``(R, t)`` per image minimising the predicted object distance at the posed template points.

    ``R = exp(w) R0``, ``t = t0 + dt`` with ``w``, ``dt`` optimised by Adam. Terms: ``w_udf`` x mean ``udf_object``
    at ``R p + t``; with votes (CHORE's centre offsets / orientation predictions) ``w_centre`` x ``|t - vote_centre|^2``
    and ``w_rotation`` x ``|R - vote_R|_F^2``; with contacts and a mask term, theirs (below).

    Args:
        template_points: (B, M, 3) object-frame surface samples of each image's template.
        R0, t0: (B, 3, 3), (B, 3) the initial pose (e.g. the votes of ``CHOREFieldNet.predict``).
        scale: (B,) fixed size of the template in the fields' scene (the scene scale of :func:`fit_body`), so the
            posed points are ``scale R p + t``; None: 1.
        contact_points: (B, K, 3) points of the fitted body in contact (CHORE's contact term: body vertices whose
            predicted object distance is small, :func:`contact_vertices`), with ``contact_weight`` (B, K) 1 / 0 (0:
            padding); ``w_contact`` x the weighted mean of each one's distance to the nearest posed template point
            (images without contacts add 0).
        mask_term: CHORE's 2D object term, ``(R, t, scale) -> (B,)`` loss (an :class:`~.mask_term.ObjectMaskTerm`:
            the occlusion-aware soft silhouette against the object's mask), weighted by ``w_mask``, in the last
            ``mask_steps`` steps (None: all; the renderer costs more than the rest of a step).

    Returns:
        ``R`` (B, 3, 3), ``t`` (B, 3), ``loss`` (steps,) the total loss per step (detached).
    """
    w = torch.zeros_like(t0, requires_grad=True)
    dt = torch.zeros_like(t0, requires_grad=True)
    optimiser = torch.optim.Adam([w, dt], lr=lr)
    size = 1.0 if scale is None else scale.to(t0)[:, None, None]
    history = []

    def pose():
        R = axis_angle_to_matrix(w) @ R0
        return R, t0 + dt

    first_mask_step = 0 if mask_steps is None else steps - int(mask_steps)
    for step in range(steps):
        R, t = pose()
        points = size * template_points @ R.transpose(1, 2) + t[:, None]
        loss = w_udf * field_fn(points)['udf'][..., 1].clamp(min=0).mean()
        if vote_centre is not None:
            loss = loss + w_centre * ((t - vote_centre)**2).sum(-1).mean()
        if vote_R is not None:
            loss = loss + w_rotation * ((R - vote_R)**2).sum((-1, -2)).mean()
        if contact_points is not None and w_contact > 0:
            nearest = torch.cdist(contact_points, points).min(-1).values  # (B, K)
            per_image = (nearest * contact_weight).sum(1) / contact_weight.sum(1).clamp(min=1)
            loss = loss + w_contact * per_image.mean()
        if mask_term is not None and w_mask > 0 and step >= first_mask_step:
            loss = loss + w_mask * mask_term(R, t, scale).mean()
        _step(optimiser, loss, [w, dt])
        history.append(float(loss.detach()))
    R, t = pose()
    return dict(R=R.detach(), t=t.detach(), loss=torch.tensor(history))


def fit_body(field_fn: FieldFn, body_model, betas: torch.Tensor, global_orient: torch.Tensor,
             body_pose: torch.Tensor, transl: torch.Tensor, vertex_parts: torch.Tensor, steps: int = 100,
             lr: float = 0.01, w_udf: float = 1.0, w_parts: float = 0.01, w_pose: Union[float, torch.Tensor] = 0.01,
             vertex_subset: Optional[torch.Tensor] = None,
             scale: Optional[torch.Tensor] = None, root_depth: Optional[float] = None,
             w_root: float = 10.0, keypoints: Optional[torch.Tensor] = None,
             camera: Optional[Dict[str, torch.Tensor]] = None, w_keypoints: float = 0.0) -> Dict[str, torch.Tensor]:
    """Body translation, global orientation and body pose per image minimising the predicted human distance at the
    posed vertices and the cross-entropy of the predicted parts at them against the vertices' own parts.

    Rotations are updated as ``exp(w) R0`` per joint (Adam on ``w``), with ``w_pose`` x ``|w_body|^2`` keeping the
    pose near its initial value (a stand-in for CHORE's pose prior; a (B,) tensor weighs each image's: a start from a
    body estimate is held closer to it than a rest-pose start); betas stay fixed.

    Args:
        betas (B, 10), global_orient (B, 3, 3), body_pose (B, J, 3, 3), transl (B, 3): the initial body.
        vertex_parts: (V,) part label of every vertex (``group_parts(body_model.part_labels, P)``).
        vertex_subset: (K,) vertex ids evaluated (default: all).
        scale: (B,) initial scale of the scene the fields live in (scaled about the camera centre to a fixed person
            depth, :class:`~hoirecon.datasets.transforms.CHOREQueryTargets` ``fixed_depth``): the fields are read at
            ``scale x vertices``, and ``log scale`` is optimised too, parametrised as the body's size about its own
            origin plus a translation in the fields' scene (scaling about the camera moves a body 2.6 m away by
            2.6 m per unit, an ill-conditioned direction next to the translation). None: no scale.
        root_depth: the root joint's depth in the fields' scene (metres): the scene of fields trained with a fixed
            person depth puts every root there, so ``w_root`` x its squared difference pins the body's depth, which
            the blurred human distance field alone does not. None: no term.
        keypoints: (B, 25, 3) detected OpenPose BODY_25 keypoints ``(x px, y px, confidence)`` in the full image
            (CHORE's 2D term): ``w_keypoints`` x the confidence-weighted L1 between them and the projected BODY_25
            joints of the body in the fields' scene (scaling about the camera leaves projections unchanged), in units
            of the crop side. Needs ``camera``: ``focal``, ``principal`` (B, 2) px and ``box_size`` (B,) px. None: no
            term.

    Returns:
        ``global_orient``, ``body_pose``, ``transl`` fitted (detached), ``vertices`` (B, V, 3) of the body model
        (unscaled), ``scale`` (B,) (ones without ``scale``), ``loss`` (steps,).
    """
    batch, joints = body_pose.shape[:2]
    w_global = torch.zeros(batch, 3, dtype=transl.dtype, device=transl.device, requires_grad=True)
    w_body = torch.zeros(batch, joints, 3, dtype=transl.dtype, device=transl.device, requires_grad=True)
    dt = torch.zeros_like(transl, requires_grad=True)
    scale0 = torch.ones(batch, dtype=transl.dtype, device=transl.device) if scale is None else scale.to(transl)
    log_scale = scale0.log().clone().requires_grad_(scale is not None)
    field_transl = scale0[:, None] * transl  # the translation in the fields' scene
    params = [w_global, w_body, dt] + ([log_scale] if scale is not None else [])
    optimiser = torch.optim.Adam(params, lr=lr)
    ids = vertex_subset if vertex_subset is not None else torch.arange(len(vertex_parts), device=transl.device)
    labels = vertex_parts[ids].to(transl.device).long()
    history = []

    def posed():
        """The rotations, the body at the origin (transl 0) and its translation, in the fields' scene."""
        go = axis_angle_to_matrix(w_global) @ global_orient
        bp = axis_angle_to_matrix(w_body) @ body_pose
        out = body_model(betas=betas, global_orient=go, body_pose=bp, transl=torch.zeros_like(transl))
        return go, bp, out.vertices, field_transl + dt, out.joints[:, 0]

    for _ in range(steps):
        _, _, local, shift, root = posed()
        fields = field_fn(local[:, ids] * log_scale.exp()[:, None, None] + shift[:, None])
        loss = w_udf * fields['udf'][..., 0].clamp(min=0).mean()
        loss = loss + w_parts * F.cross_entropy(fields['parts'].flatten(0, 1), labels.repeat(batch))
        loss = loss + (w_pose * (w_body**2).sum((-1, -2))).mean()
        if root_depth is not None:
            root_z = root[:, 2] * log_scale.exp() + shift[:, 2]
            loss = loss + w_root * ((root_z - root_depth)**2).mean()
        if keypoints is not None and w_keypoints > 0:
            joints25 = body_model.body25(local * log_scale.exp()[:, None, None] + shift[:, None])
            loss = loss + w_keypoints * keypoint_reprojection_loss(joints25, keypoints, camera['focal'],
                                                                   camera['principal'], 1.0 / camera['box_size']).mean()
        _step(optimiser, loss, params)
        history.append(float(loss.detach()))
    go, bp, local, shift, _ = posed()
    scale = log_scale.detach().exp()
    fitted = (shift / scale[:, None]).detach()  # the body's translation in the unscaled scene
    return dict(global_orient=go.detach(), body_pose=bp.detach(), transl=fitted,
                vertices=(local + fitted[:, None]).detach(), scale=scale, loss=torch.tensor(history))


def contact_vertices(field_fn: FieldFn, vertices: torch.Tensor, threshold: float) -> Dict[str, torch.Tensor]:
    """CHORE's contacts: the points among ``vertices`` (B, K, 3) (a fitted body in the fields' scene) whose predicted
    object distance is below ``threshold`` (metres): ``points`` (B, K, 3) the vertices and ``weight`` (B, K) 1 at the
    contacts, 0 elsewhere."""
    with torch.no_grad():
        udf_object = field_fn(vertices)['udf'][..., 1]
    return dict(points=vertices, weight=(udf_object < threshold).to(vertices.dtype))


def votes_to_pose(fields: Dict[str, torch.Tensor], points: torch.Tensor, radius: float) -> Dict[str, torch.Tensor]:
    """The object's initial pose from the votes of the points predicted within ``radius`` of the object (all points
    of an image where none is): ``centre`` (B, 3) mean of ``point + centre_offset``, ``R`` (B, 3, 3) from the mean
    6D rotation."""
    weight = (fields['udf'][..., 1] < radius).to(points.dtype)
    weight = torch.where(weight.sum(1, keepdim=True) > 0, weight, torch.ones_like(weight))[..., None]
    centre = ((points + fields['centre_offset']) * weight).sum(1) / weight.sum(1)
    return dict(centre=centre, R=rot6d_to_matrix((fields['object_rot6d'] * weight).sum(1) / weight.sum(1)))
