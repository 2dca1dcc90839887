"""Test-time fitting to CHORE-style fields (docs/chore.md, "Test-time fitting"): the body and the object pose are
optimised so that the predicted fields agree with them, first apart (:func:`fit_body`, :func:`fit_object`), then
together (:func:`fit_joint`, CHORE's joint stage).

A *field function* maps (B, N, 3) camera-frame points to the raw fields of :meth:`CHOREFieldNet.query`: ``udf``
(B, N, 2) metres (human, object), ``parts`` (B, N, P) logits, ``centre_offset`` (B, N, 3), ``object_rot6d``
(B, N, 6). :func:`network_field_fn` makes one from a trained network and a batch; the tests use exact fields of known
meshes. Everything is batched over images and differentiable in the points, so the losses reach the pose parameters.
"""
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from hoirecon.models.refiners.reprojection import keypoint_reprojection_loss
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.models.utils.winding import inside_mesh
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
    """One optimiser step on ``params`` only (``autograd.grad``: the network's parameters collect no gradient); a
    parameter that no term reaches (all of its weights 0) gets a zero gradient and stays."""
    for param, grad in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
        param.grad = torch.zeros_like(param) if grad is None else grad
    optimiser.step()


class ObjectVariables:
    """The object pose of one batch as Adam variables: ``R = exp(w) R0``, ``t = t0 + dt`` (``w``, ``dt`` (B, 3),
    zero at the start)."""

    def __init__(self, R0: torch.Tensor, t0: torch.Tensor):
        self.R0, self.t0 = R0, t0
        self.w = torch.zeros_like(t0, requires_grad=True)
        self.dt = torch.zeros_like(t0, requires_grad=True)
        self.params = [self.w, self.dt]

    def pose(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``R`` (B, 3, 3), ``t`` (B, 3)."""
        return axis_angle_to_matrix(self.w) @ self.R0, self.t0 + self.dt


class BodyVariables:
    """The body of one batch as Adam variables, in the fields' scene: per image the turns ``w`` of the global
    orientation and of every joint (``exp(w) R0``), the translation ``scale x transl0 + dt`` and, with
    ``free_scale``, ``log scale`` (the body's size about its own origin: scaling about the camera moves a body 2.6 m
    away by 2.6 m per unit, an ill-conditioned direction next to the translation). Betas stay fixed.

    Args:
        betas (B, 10), global_orient (B, 3, 3), body_pose (B, J, 3, 3), transl (B, 3): the start (unscaled scene).
        scale: (B,) the scene scale (None: 1).
    """

    def __init__(self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor,
                 transl: torch.Tensor, scale: Optional[torch.Tensor] = None, free_scale: bool = False):
        batch, joints = body_pose.shape[:2]
        like = dict(dtype=transl.dtype, device=transl.device)
        self.betas, self.global_orient, self.body_pose = betas, global_orient, body_pose
        self.w_global = torch.zeros(batch, 3, **like, requires_grad=True)
        self.w_body = torch.zeros(batch, joints, 3, **like, requires_grad=True)
        self.dt = torch.zeros_like(transl, requires_grad=True)
        scale0 = torch.ones(batch, **like) if scale is None else scale.to(transl)
        self.log_scale = scale0.log().clone().requires_grad_(free_scale)
        self.field_transl = scale0[:, None] * transl
        self.params = [self.w_global, self.w_body, self.dt] + ([self.log_scale] if free_scale else [])

    def posed(self, body_model) -> Dict[str, torch.Tensor]:
        """``global_orient``, ``body_pose``; ``local`` (B, V, 3) the body with translation 0 (unscaled), ``root``
        (B, 3) its root joint, ``size`` (B, 1, 1) the scale and ``shift`` (B, 3) the translation in the fields' scene:
        the scene's vertices are ``local x size + shift``."""
        go = axis_angle_to_matrix(self.w_global) @ self.global_orient
        bp = axis_angle_to_matrix(self.w_body) @ self.body_pose
        out = body_model(betas=self.betas, global_orient=go, body_pose=bp, transl=torch.zeros_like(self.dt))
        return dict(global_orient=go, body_pose=bp, local=out.vertices, root=out.joints[:, 0],
                    size=self.log_scale.exp()[:, None, None], shift=self.field_transl + self.dt)

    def result(self, body_model) -> Dict[str, torch.Tensor]:
        """The fit, detached: ``global_orient``, ``body_pose``, ``transl`` (B, 3) and ``vertices`` (B, V, 3) in the
        unscaled scene, ``scale`` (B,)."""
        posed = self.posed(body_model)
        scale = self.log_scale.detach().exp()
        fitted = (posed['shift'] / scale[:, None]).detach()  # the body's translation in the unscaled scene
        return dict(global_orient=posed['global_orient'].detach(), body_pose=posed['body_pose'].detach(),
                    transl=fitted, vertices=(posed['local'] + fitted[:, None]).detach(), scale=scale)


def body_loss(field_fn: FieldFn, body_model, posed: Dict[str, torch.Tensor], w_body: torch.Tensor,
              ids: torch.Tensor, labels: torch.Tensor, w_udf: float = 1.0, w_parts: float = 0.01,
              w_pose: Union[float, torch.Tensor] = 0.01, root_depth: Optional[float] = None, w_root: float = 10.0,
              keypoints: Optional[torch.Tensor] = None, camera: Optional[Dict[str, torch.Tensor]] = None,
              w_keypoints: float = 0.0, pose_prior: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
              w_pose_prior: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
    """The body's terms (:func:`fit_body` documents them) on a posed body (:meth:`BodyVariables.posed`); returns the
    loss, the scene vertices ``ids`` (B, K, 3) in the fields' scene and the fields there."""
    batch = posed['local'].shape[0]
    local, size, shift = posed['local'], posed['size'], posed['shift']
    points = local[:, ids] * size + shift[:, None]
    fields = field_fn(points)
    loss = w_udf * fields['udf'][..., 0].clamp(min=0).mean()
    loss = loss + w_parts * F.cross_entropy(fields['parts'].flatten(0, 1), labels.repeat(batch))
    loss = loss + (w_pose * (w_body**2).sum((-1, -2))).mean()
    if root_depth is not None:
        root_z = posed['root'][:, 2] * size[:, 0, 0] + shift[:, 2]
        loss = loss + w_root * ((root_z - root_depth)**2).mean()
    if keypoints is not None and w_keypoints > 0:
        joints25 = body_model.body25(local * size + shift[:, None])
        loss = loss + w_keypoints * keypoint_reprojection_loss(joints25, keypoints, camera['focal'],
                                                               camera['principal'], 1.0 / camera['box_size']).mean()
    if pose_prior is not None and w_pose_prior > 0:
        loss = loss + w_pose_prior * pose_prior(posed['body_pose']).mean()
    return loss, points, fields


def object_field_loss(field_fn: FieldFn, points: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                      vote_centre: Optional[torch.Tensor] = None, vote_R: Optional[torch.Tensor] = None,
                      w_udf: float = 1.0, w_centre: float = 0.1, w_rotation: float = 0.01
                      ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The object's field terms (:func:`fit_object` documents them) on the posed template ``points`` (B, M, 3);
    returns the loss and the fields at the points."""
    fields = field_fn(points)
    loss = w_udf * fields['udf'][..., 1].clamp(min=0).mean()
    if vote_centre is not None:
        loss = loss + w_centre * ((t - vote_centre)**2).sum(-1).mean()
    if vote_R is not None:
        loss = loss + w_rotation * ((R - vote_R)**2).sum((-1, -2)).mean()
    return loss, fields


def contact_loss(points: torch.Tensor, weight: torch.Tensor, surface: torch.Tensor) -> torch.Tensor:
    """(B,) the ``weight``-ed mean over ``points`` (B, K, 3) of the distance to the nearest of ``surface``
    (B, M, 3); an image whose weights (B, K) are all 0 gives 0."""
    nearest = torch.cdist(points, surface).min(-1).values
    return (nearest * weight).sum(1) / weight.sum(1).clamp(min=1)


def interpenetration_loss(points: torch.Tensor, meshes: List[Tuple[torch.Tensor, torch.Tensor]],
                          surface: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                          scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(B,) the sum over the ``points`` (B, N, 3) inside each image's object of the squared distance to its nearest
    surface sample (metres^2): the object is ``meshes[b]`` (object-frame ``(vertices, faces)``, closed) posed as
    ``scale R v + t``, ``surface`` (B, S, 3) samples of its surface so posed. Inside is decided by the winding number
    (:func:`~hoirecon.models.utils.winding.inside_mesh`, exact for any closed shape, no gradient); the distance
    carries the gradient to the points and to the pose."""
    size = torch.ones(len(t), dtype=t.dtype, device=t.device) if scale is None else scale.to(t)
    with torch.no_grad():  # in the object's frame: the mesh as it is
        local = (points - t[:, None]) @ R / size[:, None, None]
        inside = torch.stack([inside_mesh(local[b], vertices.to(t), faces.to(t.device))
                              for b, (vertices, faces) in enumerate(meshes)]).to(t)
    depth = torch.cdist(points, surface).min(-1).values
    return (inside * depth**2).sum(1)


def fit_object(field_fn: FieldFn, template_points: torch.Tensor, R0: torch.Tensor, t0: torch.Tensor,
               steps: int = 100, lr: float = 0.01, vote_centre: Optional[torch.Tensor] = None,
               vote_R: Optional[torch.Tensor] = None, w_udf: float = 1.0, w_centre: float = 0.1,
               w_rotation: float = 0.01, scale: Optional[torch.Tensor] = None,
               contact_points: Optional[torch.Tensor] = None, contact_weight: Optional[torch.Tensor] = None,
               w_contact: float = 0.0, mask_term: Optional[Callable[..., torch.Tensor]] = None,
               w_mask: float = 0.0, mask_steps: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Object pose ``(R, t)`` per image minimising the predicted object distance at the posed template points.

    ``R = exp(w) R0``, ``t = t0 + dt`` with ``w``, ``dt`` optimised by Adam (:class:`ObjectVariables`). Terms:
    ``w_udf`` x mean ``udf_object`` at ``R p + t``; with votes (CHORE's centre offsets / orientation predictions)
    ``w_centre`` x ``|t - vote_centre|^2`` and ``w_rotation`` x ``|R - vote_R|_F^2``; with contacts and a mask term,
    theirs (below).

    Args:
        template_points: (B, M, 3) object-frame surface samples of each image's template.
        R0, t0: (B, 3, 3), (B, 3) the initial pose (e.g. the votes of ``CHOREFieldNet.predict``).
        scale: (B,) fixed size of the template in the fields' scene (the scene scale of :func:`fit_body`), so the
            posed points are ``scale R p + t``; None: 1.
        contact_points: (B, K, 3) points of the fitted body in contact (CHORE's contact term: body vertices whose
            predicted object distance is small, :func:`contact_vertices`), with ``contact_weight`` (B, K) 1 / 0 (0:
            padding); ``w_contact`` x :func:`contact_loss` of them against the posed template points (images
            without contacts add 0).
        mask_term: CHORE's 2D object term, ``(R, t, scale) -> (B,)`` loss (an :class:`~.mask_term.ObjectMaskTerm`:
            the occlusion-aware soft silhouette against the object's mask), weighted by ``w_mask``, in the last
            ``mask_steps`` steps (None: all; the renderer costs more than the rest of a step).

    Returns:
        ``R`` (B, 3, 3), ``t`` (B, 3), ``loss`` (steps,) the total loss per step (detached).
    """
    variables = ObjectVariables(R0, t0)
    optimiser = torch.optim.Adam(variables.params, lr=lr)
    size = 1.0 if scale is None else scale.to(t0)[:, None, None]
    history = []
    first_mask_step = 0 if mask_steps is None else steps - int(mask_steps)
    for step in range(steps):
        R, t = variables.pose()
        points = size * template_points @ R.transpose(1, 2) + t[:, None]
        loss, _ = object_field_loss(field_fn, points, R, t, vote_centre, vote_R, w_udf, w_centre, w_rotation)
        if contact_points is not None and w_contact > 0:
            loss = loss + w_contact * contact_loss(contact_points, contact_weight, points).mean()
        if mask_term is not None and w_mask > 0 and step >= first_mask_step:
            loss = loss + w_mask * mask_term(R, t, scale).mean()
        _step(optimiser, loss, variables.params)
        history.append(float(loss.detach()))
    R, t = variables.pose()
    return dict(R=R.detach(), t=t.detach(), loss=torch.tensor(history))


def fit_body(field_fn: FieldFn, body_model, betas: torch.Tensor, global_orient: torch.Tensor,
             body_pose: torch.Tensor, transl: torch.Tensor, vertex_parts: torch.Tensor, steps: int = 100,
             lr: float = 0.01, w_udf: float = 1.0, w_parts: float = 0.01, w_pose: Union[float, torch.Tensor] = 0.01,
             vertex_subset: Optional[torch.Tensor] = None,
             scale: Optional[torch.Tensor] = None, root_depth: Optional[float] = None,
             w_root: float = 10.0, keypoints: Optional[torch.Tensor] = None,
             camera: Optional[Dict[str, torch.Tensor]] = None, w_keypoints: float = 0.0,
             pose_prior: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
             w_pose_prior: float = 0.0) -> Dict[str, torch.Tensor]:
    """Body translation, global orientation and body pose per image minimising the predicted human distance at the
    posed vertices and the cross-entropy of the predicted parts at them against the vertices' own parts.

    Rotations are updated as ``exp(w) R0`` per joint (Adam on ``w``, :class:`BodyVariables`), with ``w_pose`` x
    ``|w_body|^2`` keeping the pose near its initial value (a stand-in for CHORE's pose prior; a (B,) tensor weighs
    each image's: a start from a body estimate is held closer to it than a rest-pose start); betas stay fixed.

    Args:
        betas (B, 10), global_orient (B, 3, 3), body_pose (B, J, 3, 3), transl (B, 3): the initial body.
        vertex_parts: (V,) part label of every vertex (``group_parts(body_model.part_labels, P)``).
        vertex_subset: (K,) vertex ids evaluated (default: all).
        scale: (B,) initial scale of the scene the fields live in (scaled about the camera centre to a fixed person
            depth, :class:`~hoirecon.datasets.transforms.CHOREQueryTargets` ``fixed_depth``): the fields are read at
            ``scale x vertices``, and ``log scale`` is optimised too (:class:`BodyVariables`). None: no scale.
        root_depth: the root joint's depth in the fields' scene (metres): the scene of fields trained with a fixed
            person depth puts every root there, so ``w_root`` x its squared difference pins the body's depth, which
            the blurred human distance field alone does not. None: no term.
        keypoints: (B, 25, 3) detected OpenPose BODY_25 keypoints ``(x px, y px, confidence)`` in the full image
            (CHORE's 2D term): ``w_keypoints`` x the confidence-weighted L1 between them and the projected BODY_25
            joints of the body in the fields' scene (scaling about the camera leaves projections unchanged), in units
            of the crop side. Needs ``camera``: ``focal``, ``principal`` (B, 2) px and ``box_size`` (B,) px. None: no
            term.
        pose_prior: CHORE's learnt pose prior, ``body_pose (B, J, 3, 3) -> (B,)`` (a
            :class:`~hoirecon.models.body_models.GMMPosePrior`), weighted by ``w_pose_prior``. None: no term.

    Returns:
        ``global_orient``, ``body_pose``, ``transl`` fitted (detached), ``vertices`` (B, V, 3) of the body model
        (unscaled), ``scale`` (B,) (ones without ``scale``), ``loss`` (steps,).
    """
    variables = BodyVariables(betas, global_orient, body_pose, transl, scale, free_scale=scale is not None)
    optimiser = torch.optim.Adam(variables.params, lr=lr)
    ids = vertex_subset if vertex_subset is not None else torch.arange(len(vertex_parts), device=transl.device)
    labels = vertex_parts[ids].to(transl.device).long()
    terms = dict(w_udf=w_udf, w_parts=w_parts, w_pose=w_pose, root_depth=root_depth, w_root=w_root,
                 keypoints=keypoints, camera=camera, w_keypoints=w_keypoints, pose_prior=pose_prior,
                 w_pose_prior=w_pose_prior)
    history = []
    for _ in range(steps):
        loss, _, _ = body_loss(field_fn, body_model, variables.posed(body_model), variables.w_body, ids, labels,
                               **terms)
        _step(optimiser, loss, variables.params)
        history.append(float(loss.detach()))
    return dict(variables.result(body_model), loss=torch.tensor(history))


def fit_joint(field_fn: FieldFn, body_model, body: Dict[str, torch.Tensor], R0: torch.Tensor, t0: torch.Tensor,
              template_points: torch.Tensor, vertex_parts: torch.Tensor, steps: int = 50, lr: float = 0.005,
              vertex_subset: Optional[torch.Tensor] = None, body_terms: Optional[dict] = None,
              object_terms: Optional[dict] = None, contact_threshold: float = 0.03, w_contact: float = 0.0,
              w_contact_object: float = 0.0,
              collision_meshes: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None,
              w_collision: float = 0.0) -> Dict[str, torch.Tensor]:
    """CHORE's joint stage: the body (orientation, pose, translation; scene scale and betas fixed) and the object pose,
    one Adam loop, from the separate fits.

    Loss = :func:`body_loss` (``body_terms``: :func:`fit_body`'s keywords ``w_udf``, ``w_parts``, ``w_pose``,
    ``root_depth``, ``w_root``, ``keypoints``, ``camera``, ``w_keypoints``, ``pose_prior``, ``w_pose_prior``;
    ``w_pose`` pulls each joint back to its pose at the start of this stage) + :func:`object_field_loss`
    (``object_terms``: ``vote_centre``, ``vote_R``, ``w_udf``, ``w_centre``, ``w_rotation``; with ``mask_term``
    and ``w_mask`` the object mask term) + the contacts in both directions, read at every step from the fields
    that the other terms already evaluate:

    - ``w_contact`` x :func:`contact_loss` of the body vertices whose predicted **object** distance is below
      ``contact_threshold`` against the posed template points;
    - ``w_contact_object`` x that of the template points whose predicted **human** distance is below it against the
      body vertices;

    both move the body and the object (the contact labels themselves carry no gradient), + ``w_collision`` x
    :func:`interpenetration_loss` (the body vertices inside the posed template, found by their winding number about
    it, pulled out to its posed ``template_points``). ``collision_meshes``: B object-frame ``(vertices (V, 3),
    faces (F, 3))`` tensors, the closed templates.

    Args:
        body: :func:`fit_body`'s result plus ``betas`` (B, 10): ``global_orient``, ``body_pose``, ``transl`` (B, 3)
            unscaled, ``scale`` (B,) the scene scale (kept).
        R0, t0: (B, 3, 3), (B, 3) the object's pose in the fields' scene (:func:`fit_object`'s result).
        template_points: (B, M, 3) the object-frame samples the object terms read.

    Returns:
        ``body``: :func:`fit_body`'s keys (``scale`` as given); ``R``, ``t`` the object in the fields' scene; ``loss``
        (steps,); ``contacts`` (B,) and ``object_contacts`` (B,) the numbers of body vertices and template points in
        contact at the last step.
    """
    body_terms, object_terms = dict(body_terms or {}), dict(object_terms or {})
    mask_term, w_mask = object_terms.pop('mask_term', None), float(object_terms.pop('w_mask', 0.0))
    scale = body['scale']
    body_vars = BodyVariables(body['betas'], body['global_orient'], body['body_pose'], body['transl'], scale)
    object_vars = ObjectVariables(R0, t0)
    params = body_vars.params + object_vars.params
    optimiser = torch.optim.Adam(params, lr=lr)
    device = t0.device
    ids = vertex_subset if vertex_subset is not None else torch.arange(len(vertex_parts), device=device)
    labels = vertex_parts[ids].to(device).long()
    size = scale.to(t0)[:, None, None]
    history = []
    counts = (torch.zeros(len(t0)), torch.zeros(len(t0)))
    for _ in range(steps):
        posed = body_vars.posed(body_model)
        loss, scene_body, body_fields = body_loss(field_fn, body_model, posed, body_vars.w_body, ids, labels,
                                                  **body_terms)
        R, t = object_vars.pose()
        points = size * template_points @ R.transpose(1, 2) + t[:, None]
        object_loss, object_fields = object_field_loss(field_fn, points, R, t, **object_terms)
        loss = loss + object_loss
        human_contacts = (body_fields['udf'][..., 1] < contact_threshold).to(t0).detach()
        object_contacts = (object_fields['udf'][..., 0] < contact_threshold).to(t0).detach()
        counts = (human_contacts.sum(1), object_contacts.sum(1))
        if w_contact > 0:
            loss = loss + w_contact * contact_loss(scene_body, human_contacts, points).mean()
        if w_contact_object > 0:
            loss = loss + w_contact_object * contact_loss(points, object_contacts, scene_body).mean()
        if mask_term is not None and w_mask > 0:
            loss = loss + w_mask * mask_term(R, t, scale).mean()
        if collision_meshes is not None and w_collision > 0:
            loss = loss + w_collision * interpenetration_loss(scene_body, collision_meshes, points, R, t,
                                                              scale).mean()
        _step(optimiser, loss, params)
        history.append(float(loss.detach()))
    R, t = object_vars.pose()
    return dict(body=body_vars.result(body_model), R=R.detach(), t=t.detach(), loss=torch.tensor(history),
                contacts=counts[0].cpu(), object_contacts=counts[1].cpu())


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
