"""StackFLOW's post-optimisation (method.md §6): fit the reconstruction to 2D evidence under the flows' priors."""
import math
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.models.utils import hoi_frame, matrix_to_rot6d, rot6d_to_matrix
from hoirecon.registry import REFINERS
from .pnp import PnPCheck, check_pnp, solve_object_pnp
from .problem import RefinementProblem
from .reprojection import correspondence_reprojection_loss, keypoint_reprojection_loss

#: Loss weights ``w0`` of StackFLOW on BEHAVE (method.md §6); the offset loss is an option (0 = off).
BEHAVE_LOSS_WEIGHTS = dict(person_keypoints=0.1, object_correspondences=10.0, pose_posterior=1.0,
                           relation_posterior=1.0, offsets=0.0)
#: Loss weights of StackFLOW on InterCap.
INTERCAP_LOSS_WEIGHTS = dict(person_keypoints=1.0, object_correspondences=10.0, pose_posterior=1.0,
                             relation_posterior=1.0, offsets=0.0)
#: Image width (pixels) that the loss weights are tuned for: BEHAVE's Kinect colour frames.
BEHAVE_IMAGE_WIDTH = 2048.0
#: A fixed ``pixel_scale`` further than this factor from ``reference_width / image width`` is warned about.
PIXEL_SCALE_TOLERANCE = 1.5
#: Optimisable variables: per person ``betas``, ``body_pose`` (21 x 6D), ``hoi_R`` (6D global rotation),
#: ``hoi_t`` (camera-frame root joint); per object ``rel_R`` (6D) and ``rel_t`` (relative pose in the HOI frame).
VARIABLES = ('betas', 'body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t')
#: What StackFLOW's post-optimisation changes: everything but the body shape.
STACKFLOW_OPTIMIZE = ('body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t')
#: Learning-rate schedules of the post-optimisation: StackFLOW's constant rate, or a cosine to 0 over all steps.
LR_SCHEDULES = ('constant', 'cosine')
PERSON_VARIABLES = ('betas', 'body_pose', 'hoi_R', 'hoi_t')


@dataclass
class RefinementResult:
    """Output of :meth:`StackFLOWRefiner.refine`, one row per instance (person-object pair).

    Attributes:
        params: ``betas`` (B,10), ``global_orient`` = ``hoi_R`` (B,3,3), ``body_pose`` (B,21,3,3), ``hoi_t``
            (B,3), ``transl`` (B,3) (the body model's translation), ``rel_R`` (B,3,3), ``rel_t`` (B,3),
            ``object_R`` (B,3,3), ``object_t`` (B,3), ``human_vertices`` (B,V,3), camera frame, metres.
        losses: final unweighted value of every active term, (B,) per instance (person terms repeated over
            the instances of a person).
        pnp_used: (B,) bool, whether the object was initialised by PnP.
        history: per step, the mean weighted total loss over the batch (for plots and tests).
        pnp_status: per instance, one line on the PnP start (with ``object_init='pnp'``): ``'pnp: ...'`` when it
            was used, else why the network's object was kept (:func:`~hoirecon.models.refiners.pnp.check_pnp`).
    """
    params: Dict[str, torch.Tensor]
    losses: Dict[str, torch.Tensor]
    pnp_used: torch.Tensor
    history: List[float] = field(default_factory=list)
    pnp_status: List[str] = field(default_factory=list)


@dataclass
class RefinementSetup:
    """What :meth:`StackFLOWRefiner.prepare` makes of a refinement's inputs, before the first step.

    Attributes:
        init: the inputs ``init`` on the problem's device and dtype.
        finite: (B,) bool, instances whose start is finite (the others are carried through).
        start: starting variables (:data:`VARIABLES`; 6D rotations; person variables (P, ...)).
        pnp_used, pnp_status: as in :class:`RefinementResult`.
        terms: the active terms.
        context: what :meth:`StackFLOWRefiner._losses` reads (problem, labels, obs, camera with ``pixel_scale``,
            groups, first, relation0, subset).
    """
    init: Dict[str, torch.Tensor]
    finite: torch.Tensor
    start: Dict[str, torch.Tensor]
    pnp_used: torch.Tensor
    pnp_status: List[str]
    terms: List[str]
    context: dict


def adam_step(optimizer, total: torch.Tensor, trainable: List[torch.Tensor]) -> None:
    """One step of ``optimizer`` on ``total``'s gradients w.r.t. ``trainable`` (zeros for unused variables); nothing
    without an optimizer or when ``total`` has no gradient."""
    if optimizer is None or not total.requires_grad:
        return
    grads = torch.autograd.grad(total, trainable, allow_unused=True)
    for value, grad in zip(trainable, grads):
        value.grad = torch.zeros_like(value) if grad is None else grad
    optimizer.step()


@REFINERS.register_module()
class StackFLOWRefiner:
    """Batched Adam fit of body shape/pose, HOI placement and object relative pose (StackFLOW's post-optimisation).

    Terms (each per image, weighted by ``w0 / (1 + weight_decay * stage)`` in stage ``stage``):

    ===========================  =================================================================================
    ``person_keypoints``         confidence-weighted L1 of the projected BODY_25 joints (body model regressor) to
                                 the OpenPose detections (:func:`keypoint_reprojection_loss`)
    ``object_correspondences``   weighted L1 of the projected ``x3d`` to ``x2d`` (:func:`correspondence_...`)
    ``pose_posterior``           mean of the squared pose-flow latent of the current pose, ``z = f^-1(theta)``
    ``relation_posterior``       mean of the squared relation-flow latent of the current relation (stacked flow:
                                 conditioned on the current pose)
    ``offsets``                  L1 between the current human-object offsets and those decoded from the
                                 network's relation (optional; encoders with offsets only)
    ===========================  =================================================================================

    An image without keypoints (all confidences 0) or correspondences (all weights 0) has that term switched off
    for that image only. One Adam runs ``steps_per_stage`` steps in each of ``num_stages`` stages (StackFLOW: 2 x 150
    on BEHAVE at lr 4e-2, 2 x 300 InterCap and 2 x 200 BEHAVE-extended at 5e-2), keeping its moments across stages,
    so that the smaller weights of a later stage really take smaller steps (with ``optimizer_per_stage=True`` a fresh
    Adam starts each stage, and Adam's invariance to a constant loss scale makes the stage factor a no-op).

    Several objects can share one person (``groups``): the person's variables are shared and fitted jointly to
    every object's terms (each object keeps its own image feature and relation).

    Args:
        num_stages: outer iterations (the loss weights shrink with each).
        steps_per_stage: Adam steps per stage.
        lr: Adam learning rate.
        loss_weights: ``w0`` per term (keys of :data:`BEHAVE_LOSS_WEIGHTS`); missing keys take the BEHAVE
            value, 0 switches a term off.
        weight_decay: the ``10`` of ``w0 / (1 + 10 * stage)``.
        pixel_scale: image residuals are multiplied by it before weighting, so that the weights keep the meaning
            they have at ``reference_width``: a number (1 for BEHAVE's 2048 px frames; 4 for 512 px images), or
            ``'auto'``: ``reference_width / image width`` per image (needs ``camera['image_width']``). A fixed
            number more than 1.5x away from that ratio for some image is warned about.
        reference_width: image width, pixels, that the loss weights and pixel thresholds are tuned for.
        object_init: None (start from the network's object) or ``'pnp'``: images with enough correspondences
            start from a RANSAC PnP object pose (:func:`solve_object_pnp`) if it passes :func:`check_pnp`
            (inliers, inlier ratio, error, object mask when the observations carry one), else from the network;
            :attr:`RefinementResult.pnp_status` says which and why.
        pnp_cfg: keyword arguments of :func:`solve_object_pnp` (its ``reprojection_error`` is in scaled pixels,
            i.e. divided by the image's pixel scale before use).
        pnp_check: fields of :class:`~hoirecon.models.refiners.pnp.PnPCheck` (``max_mean_error`` in scaled
            pixels).
        optimize: variables to optimise (subset of :data:`VARIABLES`); the others stay at their initial value.
            StackFLOW keeps the shape (``betas``) fixed: :data:`STACKFLOW_OPTIMIZE`, the default.
        optimizer_per_stage: a fresh Adam per stage (hoirecon's first refiner) instead of StackFLOW's one Adam.
        lr_schedule: ``'constant'`` (StackFLOW) or ``'cosine'``: the rate follows ``lr (1 + cos(pi t / T)) / 2``
            over all T steps of all stages, so that the last steps settle instead of stopping wherever a step of size
            ``lr`` lands (a departure for videos, where per-frame endpoints show up as jitter; docs/refiners.md).
        show_progress: tqdm bar over the steps.
    """

    def __init__(self,
                 num_stages: int = 2,
                 steps_per_stage: int = 150,
                 lr: float = 4e-2,
                 loss_weights: Optional[Dict[str, float]] = None,
                 weight_decay: float = 10.0,
                 pixel_scale: Union[float, str] = 1.0,
                 object_init: Optional[str] = None,
                 pnp_cfg: Optional[dict] = None,
                 pnp_check: Optional[dict] = None,
                 reference_width: float = BEHAVE_IMAGE_WIDTH,
                 optimize: Sequence[str] = None,
                 optimizer_per_stage: bool = False,
                 lr_schedule: str = 'constant',
                 show_progress: bool = False):
        optimize = STACKFLOW_OPTIMIZE if optimize is None else optimize
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f'StackFLOWRefiner: lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}.')
        unknown = sorted(set(loss_weights or {}) - set(BEHAVE_LOSS_WEIGHTS))
        if unknown:
            raise KeyError(f'StackFLOWRefiner: unknown loss_weights {unknown}; known terms: '
                           f'{list(BEHAVE_LOSS_WEIGHTS)}')
        unknown = sorted(set(optimize) - set(VARIABLES))
        if unknown:
            raise KeyError(f'StackFLOWRefiner: unknown variables in optimize {unknown}; known: {list(VARIABLES)}')
        if object_init not in (None, 'pnp'):
            raise ValueError(f"StackFLOWRefiner: object_init must be None or 'pnp', got {object_init!r}.")
        if num_stages < 0 or steps_per_stage < 0:
            raise ValueError('StackFLOWRefiner: num_stages and steps_per_stage must be >= 0, got '
                             f'{num_stages} and {steps_per_stage}.')
        self.num_stages = int(num_stages)
        self.steps_per_stage = int(steps_per_stage)
        self.lr = float(lr)
        self.loss_weights = {**BEHAVE_LOSS_WEIGHTS, **(loss_weights or {})}
        self.weight_decay = float(weight_decay)
        if isinstance(pixel_scale, str) and pixel_scale != 'auto':
            raise ValueError(f"StackFLOWRefiner: pixel_scale must be a number or 'auto', got {pixel_scale!r}.")
        self.pixel_scale = pixel_scale if pixel_scale == 'auto' else float(pixel_scale)
        self.reference_width = float(reference_width)
        self.pnp_check = PnPCheck(**(pnp_check or {}))
        self.object_init = object_init
        self.pnp_cfg = dict(pnp_cfg or {})
        self.optimize = tuple(optimize)
        self.optimizer_per_stage = bool(optimizer_per_stage)
        self.lr_schedule = lr_schedule
        self.show_progress = show_progress

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_stages={self.num_stages}, steps_per_stage={self.steps_per_stage}, '
                f'lr={self.lr}, loss_weights={self.loss_weights}, pixel_scale={self.pixel_scale}, '
                f'object_init={self.object_init!r})')

    # ------------------------------------------------------------------ set-up
    def _active_terms(self, problem: RefinementProblem) -> List[str]:
        terms = [name for name, weight in self.loss_weights.items() if weight > 0]
        if not problem.has_likelihood:
            dropped = [t for t in terms if t.endswith('_posterior')]
            if dropped:
                warnings.warn(f'StackFLOWRefiner: {problem.head_name} has no likelihood, so the terms '
                              f'{dropped} are off.')
                terms = [t for t in terms if t not in dropped]
        if 'offsets' in terms and not problem.has_offsets:
            warnings.warn(f'StackFLOWRefiner: {problem.relation_encoder_name} has no offsets, so the '
                          'offsets term is off.')
            terms.remove('offsets')
        return terms

    def pixel_scales(self, camera: Dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) factor of each image's pixel residuals: ``pixel_scale``, or ``reference_width / image width``.

        A fixed ``pixel_scale`` that is more than 1.5x away from ``reference_width / image width`` (e.g. the
        synthetic config's 4, tuned for 512 px images, applied to a 2048 px frame) is warned about, naming the
        setting to change.
        """
        focal = camera['focal']
        width = camera.get('image_width')
        if self.pixel_scale == 'auto':
            if width is None:
                raise KeyError("StackFLOWRefiner: pixel_scale='auto' needs camera['image_width'] (B,) pixels.")
            return (self.reference_width / width.to(focal)).reshape(-1)
        scales = focal.new_full(focal.shape[:1], self.pixel_scale)
        if width is not None and len(width):
            ratio = (width.to(focal).reshape(-1) * self.pixel_scale / self.reference_width).double()
            if bool((ratio.log().abs() > float(np.log(PIXEL_SCALE_TOLERANCE))).any()):
                widths = sorted({int(w) for w in width.reshape(-1).tolist()})
                warnings.warn(f'StackFLOWRefiner: pixel_scale={self.pixel_scale:g} is set for images '
                              f'{self.reference_width / self.pixel_scale:.0f} px wide (reference_width '
                              f'{self.reference_width:.0f} / pixel_scale) but the images are {widths} px wide: the '
                              'pixel terms and the PnP threshold are off by that ratio. Set '
                              "refiner.pixel_scale='auto' (or the right number, e.g. --cfg-options "
                              'refiner.pixel_scale=...).')
        return scales

    def _pnp_objects(self, observations: Dict[str, torch.Tensor], camera: Dict[str, torch.Tensor],
                     scales: torch.Tensor):
        """RANSAC PnP object poses: (B,3,3), (B,3) (NaN where it failed or was rejected), (B,) bool success and
        the (B,) status lines of :func:`check_pnp`."""
        batch = camera['focal'].shape[0]
        R = torch.full((batch, 3, 3), float('nan'), dtype=torch.float64)
        t = torch.full((batch, 3), float('nan'), dtype=torch.float64)
        ok = torch.zeros(batch, dtype=torch.bool)
        if 'corr_x3d' not in observations:
            return R, t, ok, ['no correspondences'] * batch
        scales = scales.detach().cpu().double().numpy()
        x3d, x2d, w2d = (observations[k].detach().cpu().double().numpy() for k in ('corr_x3d', 'corr_x2d',
                                                                                   'corr_w2d'))
        masks = (observations['object_mask_box'].detach().cpu().numpy(),
                 observations['object_mask_grid'].detach().cpu().numpy()) if 'object_mask_grid' in observations \
            else None
        focal, principal = camera['focal'].detach().cpu().double().numpy(), camera['principal'].detach().cpu(
        ).double().numpy()
        status = []
        for i in range(batch):
            K = np.array([[focal[i, 0], 0, principal[i, 0]], [0, focal[i, 1], principal[i, 1]], [0, 0, 1]])
            cfg = dict(self.pnp_cfg)
            cfg['reprojection_error'] = cfg.get('reprojection_error', 8.0) / scales[i]
            if not (w2d[i].sum(axis=1) > 0).any():
                status.append('no correspondences')
                continue
            result = solve_object_pnp(x3d[i], x2d[i], w2d[i], K, **cfg)
            check = PnPCheck(**{**vars(self.pnp_check), 'max_mean_error': self.pnp_check.max_mean_error / scales[i]})
            accepted, reason = check_pnp(result, x3d[i], x2d[i], K, check,
                                         *((masks[0][i], masks[1][i]) if masks is not None else (None, None)))
            status.append(reason if accepted else f'network pose kept: PnP rejected, {reason}')
            if accepted:
                R[i], t[i], ok[i] = torch.from_numpy(result.R), torch.from_numpy(result.t), True
        return R, t, ok, status

    # ------------------------------------------------------------------ main
    def refine(self,
               problem: RefinementProblem,
               init: Dict[str, torch.Tensor],
               observations: Dict[str, torch.Tensor],
               camera: Dict[str, torch.Tensor],
               groups: Optional[torch.Tensor] = None) -> RefinementResult:
        """Refine B person-object reconstructions.

        Args:
            problem: the model side, :class:`~hoirecon.models.refiners.problem.RefinementProblem` (body model,
                the flows' image-conditioned log-density, relation encoding, object labels), e.g.
                ``model.refinement_problem(feature, labels)`` of the
                :class:`~hoirecon.models.HOIReconstructor` that made ``init``.
            init: the network's reconstruction: ``betas`` (B,10), ``global_orient`` (B,3,3), ``body_pose``
                (B,21,3,3), ``hoi_t`` (B,3), ``object_R`` (B,3,3), ``object_t`` (B,3) and ``relation`` (B,D)
                (the network's latent, for the offsets term).
            observations: any of ``person_kpts`` (B,25,3), ``corr_x3d`` (B,N,3), ``corr_x2d`` (B,N,2),
                ``corr_w2d`` (B,N,2) (see :class:`~hoirecon.structures.HOIDataSample`); a missing key switches
                its term off for the whole batch.
            camera: ``focal`` (B,2), ``principal`` (B,2) of the full image, pixels; ``image_width`` (B,) pixels
                (for ``pixel_scale='auto'`` and the pixel-scale check; optional otherwise).
            groups: (B,) long person index of each instance (instances of one person share body variables and
                must share the image); None = one person per instance. Person ``p`` starts from its first
                instance's body; the other instances' objects keep their camera pose.

        Returns:
            :class:`RefinementResult`.
        """
        setup = self.prepare(problem, init, observations, camera, groups)
        variables = {key: value.clone().requires_grad_(key in self.optimize) for key, value in setup.start.items()}
        history = self._optimise(variables, setup.terms, setup.context, setup.finite.to(problem.dtype))
        return self.finish(setup, variables, history)

    def prepare(self,
                problem: RefinementProblem,
                init: Dict[str, torch.Tensor],
                observations: Dict[str, torch.Tensor],
                camera: Dict[str, torch.Tensor],
                groups: Optional[torch.Tensor] = None) -> 'RefinementSetup':
        """Everything :meth:`refine` computes before the first Adam step (arguments as :meth:`refine`): inputs on
        the problem's device and dtype, the (B,) finite-start mask, pixel scales, the starting variables (PnP
        included), the active terms and the context of :meth:`_losses`. Shared with the sequence refiner."""
        device, dtype = problem.device, problem.dtype
        batch = problem.batch_size
        groups, first = self._persons(groups, batch, device)
        init = {key: value.detach().to(device=device, dtype=dtype) for key, value in init.items()}
        obs = {key: value.detach().to(device=device, dtype=dtype) for key, value in observations.items()}
        camera = {key: value.detach().to(device=device, dtype=dtype) for key, value in camera.items()}
        # instances with a non-finite start (e.g. an object without PCA decodes to NaN) are carried through
        finite = torch.stack([torch.isfinite(init[k]).flatten(1).all(dim=1)
                              for k in ('betas', 'global_orient', 'body_pose', 'hoi_t', 'object_R', 'object_t')],
                             dim=1).all(dim=1)
        camera['pixel_scale'] = self.pixel_scales(camera)
        start, pnp_used, pnp_status = self._start(init, obs, camera, groups, first, finite)

        terms = self._active_terms(problem)
        relation0 = init.get('relation')
        if 'offsets' in terms and relation0 is None:
            raise KeyError("StackFLOWRefiner: the offsets term needs init['relation'] (the network's latent).")
        context = dict(problem=problem, labels=problem.labels, obs=obs, camera=camera, groups=groups, first=first,
                       relation0=None if relation0 is None else torch.nan_to_num(relation0),
                       subset=self._body_subset(problem, device))
        return RefinementSetup(init=init, finite=finite, start=start, pnp_used=pnp_used, pnp_status=pnp_status,
                               terms=terms, context=context)

    def finish(self, setup: 'RefinementSetup', variables: Dict[str, torch.Tensor],
               history: List[float]) -> RefinementResult:
        """The :class:`RefinementResult` of the optimised ``variables`` (one row per person / instance of
        ``setup``): final term values, camera-space parameters, non-finite starts given back."""
        context = setup.context
        with torch.no_grad():
            final = {key: value.detach() for key, value in variables.items()}
            losses = {t: v.detach() for t, v in self._losses(final, setup.terms, context).items()}
            params = self._keep_unrefined(self._compose(context['problem'].body_model, final, context['groups']),
                                          setup.init, setup.finite)
        return RefinementResult(params=params, losses=losses, pnp_used=setup.pnp_used, history=history,
                                pnp_status=setup.pnp_status)

    @staticmethod
    def _persons(groups: Optional[torch.Tensor], batch: int, device: torch.device):
        """Checked (B,) person index of each instance and (P,) index of each person's first instance."""
        groups = torch.arange(batch, device=device) if groups is None else groups.to(device).long()
        if groups.shape != (batch, ) or (batch and int(groups.min()) < 0):
            raise ValueError(f'StackFLOWRefiner: groups must be (B,) = ({batch},) non-negative person indices, got '
                             f'{tuple(groups.shape)}.')
        num_persons = int(groups.max()) + 1 if batch else 0
        first = torch.tensor([int(torch.nonzero(groups == p)[0]) if bool((groups == p).any()) else -1
                              for p in range(num_persons)], device=device, dtype=torch.long)
        if bool((first < 0).any()):
            raise ValueError('StackFLOWRefiner: groups must number persons 0..P-1 without gaps.')
        return groups, first

    def _start(self, init, obs, camera, groups, first, finite):
        """Starting variables (6D rotations; non-finite starts replaced by identity / zeros), (B,) PnP use and the
        per-instance PnP status lines.

        Each person starts from its first instance's body; every object keeps its camera pose (the network's, or
        PnP's where ``object_init='pnp'`` succeeds), re-expressed relative to its person.
        """
        person = {k: init[k][first] for k in ('betas', 'global_orient', 'body_pose', 'hoi_t')}
        object_R, object_t = init['object_R'], init['object_t']
        pnp_used = torch.zeros_like(finite)
        pnp_status = ['network pose (object_init is None)'] * len(finite)
        if self.object_init == 'pnp':
            pnp_R, pnp_t, pnp_ok, pnp_status = self._pnp_objects(obs, camera, camera['pixel_scale'])
            pnp_used = pnp_ok.to(finite.device) & finite
            object_R = torch.where(pnp_used[:, None, None], pnp_R.to(object_R), object_R)
            object_t = torch.where(pnp_used[:, None], pnp_t.to(object_t), object_t)
        hoi_R, hoi_t = person['global_orient'][groups], person['hoi_t'][groups]
        rel_R, rel_t = hoi_frame.decompose_object_pose(hoi_R, hoi_t, object_R, object_t)
        start = dict(betas=person['betas'], body_pose=matrix_to_rot6d(person['body_pose']),
                     hoi_R=matrix_to_rot6d(person['global_orient']), hoi_t=person['hoi_t'],
                     rel_R=matrix_to_rot6d(rel_R), rel_t=rel_t)
        identity_6d = matrix_to_rot6d(torch.eye(3, dtype=object_R.dtype, device=object_R.device))
        for key, value in start.items():
            keep = (finite[first] if key in PERSON_VARIABLES else finite).reshape(-1, *([1] * (value.dim() - 1)))
            fill = identity_6d if key in ('hoi_R', 'body_pose', 'rel_R') else value.new_zeros(())
            start[key] = torch.where(keep & torch.isfinite(value), value, fill.expand_as(value))
        return start, pnp_used, pnp_status

    def adam_steps(self, trainable: List[torch.Tensor]):
        """Yield ``(stage factor, optimizer)`` for each of the ``num_stages x steps_per_stage`` steps: the factor is
        ``1 / (1 + weight_decay * stage)``; one Adam through the stages (a fresh one per stage with
        ``optimizer_per_stage``), its rate set for the step by ``lr_schedule``; the optimizer is None without
        trainable variables."""
        optimizer = None
        total = self.num_stages * self.steps_per_stage
        step = 0
        for stage in range(self.num_stages):
            if trainable and (optimizer is None or self.optimizer_per_stage):
                optimizer = torch.optim.Adam(trainable, lr=self.lr)
            for _ in range(self.steps_per_stage):
                if optimizer is not None and self.lr_schedule == 'cosine':
                    for group in optimizer.param_groups:
                        group['lr'] = self.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
                step += 1
                yield 1.0 / (1.0 + self.weight_decay * stage), optimizer

    def _optimise(self, variables: Dict[str, torch.Tensor], terms: List[str], context: dict,
                  weight_mask: torch.Tensor) -> List[float]:
        """Adam stages on the trainable variables (in place); returns the per-step mean weighted loss."""
        trainable = [v for k, v in variables.items() if k in self.optimize]
        totals: List[torch.Tensor] = []  # kept on the device: no host sync per step
        bar = tqdm(total=self.num_stages * self.steps_per_stage, desc='refining', disable=not self.show_progress)
        with torch.enable_grad():
            for factor, optimizer in self.adam_steps(trainable):
                bar.update(1)
                if not terms:
                    totals.append(weight_mask.new_zeros(()))
                    continue
                losses = self._losses(variables, terms, context)
                total = (sum(self.loss_weights[t] * factor * losses[t] for t in terms) * weight_mask).sum()
                totals.append(total.detach())
                adam_step(optimizer, total, trainable)
        bar.close()
        if not totals:
            return []
        return (torch.stack(totals) / max(weight_mask.shape[0], 1)).tolist()

    @staticmethod
    def _keep_unrefined(params: Dict[str, torch.Tensor], init: Dict[str, torch.Tensor],
                        finite: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Instances whose start was not finite get their input back (NaN where the input has no such entry)."""
        if bool(finite.all()):
            return params
        aliases = {'hoi_R': 'global_orient'}
        for key, value in params.items():
            source = init.get(aliases.get(key, key))
            if source is None or source.shape != value.shape:
                source = torch.full_like(value, float('nan'))
            params[key] = torch.where(finite.reshape(-1, *([1] * (value.dim() - 1))), value, source)
        return params

    __call__ = refine

    # ------------------------------------------------------------------ terms
    @staticmethod
    def _body_subset(problem: RefinementProblem, device: torch.device) -> dict:
        """The vertices the terms read at every step: relation anchors and the BODY_25 regressor's support."""
        body25 = problem.body_model.body25_regressor
        anchors = problem.human_anchor_indices.to(device).long()
        ids, inverse = torch.unique(torch.cat([anchors, torch.nonzero(body25.abs().sum(0) > 0)[:, 0].to(device)]),
                                    return_inverse=True)
        return dict(ids=ids, anchors=inverse[:len(anchors)], body25=body25.to(device)[:, ids],
                    body25_weight=body25.to(device).sum(dim=1))

    def _step_body(self, body_model, variables: Dict[str, torch.Tensor], subset: dict):
        """Per person, from the subset of vertices only: rotations, HOI-frame anchors and camera BODY_25."""
        body_pose = rot6d_to_matrix(variables['body_pose'])
        hoi_R = rot6d_to_matrix(variables['hoi_R'])
        batch = body_pose.shape[0]
        eye = torch.eye(3, dtype=body_pose.dtype, device=body_pose.device).expand(batch, 1, 3, 3)
        vertices, joints = body_model.posed_vertex_subset(variables['betas'], torch.cat([eye, body_pose], 1),
                                                          subset['ids'])
        vertices_rel = hoi_frame.root_relative(vertices, joints)
        # the regressor is linear: regress in the HOI frame, then map to the camera (its rows need not sum to 1)
        body25 = (subset['body25'].to(vertices) @ vertices_rel) @ hoi_R.transpose(1, 2)
        body25 = body25 + subset['body25_weight'].to(vertices)[:, None] * variables['hoi_t'][:, None]
        return body_pose, hoi_R, vertices_rel[:, subset['anchors']], body25

    @staticmethod
    def _object_pose(hoi_R: torch.Tensor, hoi_t: torch.Tensor, rel_R: torch.Tensor, rel_t: torch.Tensor,
                     groups: torch.Tensor):
        """Camera-frame object pose (B,3,3), (B,3) of each instance from its person's HOI frame (P,...)."""
        return hoi_frame.compose_object_pose(hoi_R[groups], hoi_t[groups], rel_R, rel_t)

    def _losses(self, variables: Dict[str, torch.Tensor], terms: List[str], ctx: dict) -> Dict[str, torch.Tensor]:
        """Unweighted (B,) value of every active term."""
        problem, groups, obs, camera = ctx['problem'], ctx['groups'], ctx['obs'], ctx['camera']
        body_pose, hoi_R, anchors, body25 = self._step_body(problem.body_model, variables, ctx['subset'])
        rel_R = rot6d_to_matrix(variables['rel_R'])
        rel_t = variables['rel_t']
        losses = {}
        if 'person_keypoints' in terms:
            if 'person_kpts' in obs:
                first = ctx['first']
                per_person = keypoint_reprojection_loss(body25, obs['person_kpts'][first],
                                                        camera['focal'][first], camera['principal'][first],
                                                        camera['pixel_scale'][first])
                # counted once per person: on its first instance
                losses['person_keypoints'] = per_person.new_zeros(groups.shape[0]).index_copy(0, first, per_person)
            else:
                losses['person_keypoints'] = body25.new_zeros(groups.shape[0])
        if 'object_correspondences' in terms:
            if 'corr_x3d' in obs:
                object_R, object_t = self._object_pose(hoi_R, variables['hoi_t'], rel_R, rel_t, groups)
                losses['object_correspondences'] = correspondence_reprojection_loss(
                    object_R, object_t, obs['corr_x3d'], obs['corr_x2d'], obs['corr_w2d'], camera['focal'],
                    camera['principal'], camera['pixel_scale'])
            else:
                losses['object_correspondences'] = body25.new_zeros(groups.shape[0])
        needs_relation = {'pose_posterior', 'relation_posterior', 'offsets'} & set(terms)
        if needs_relation:
            anchors = anchors[groups]
            labels = ctx['labels']
            if {'pose_posterior', 'relation_posterior'} & set(terms):
                relation = problem.encode_relation(rel_R, rel_t, labels, anchors)
                rotations = torch.cat((hoi_R[:, None], body_pose), dim=1)[groups]
                log_prob = problem.log_prob(matrix_to_rot6d(rotations), relation)
                if 'pose_posterior' in terms:
                    losses['pose_posterior'] = (log_prob['pose_z']**2).mean(dim=1)
                if 'relation_posterior' in terms:
                    losses['relation_posterior'] = (log_prob['relation_z']**2).mean(dim=1)
            if 'offsets' in terms:
                current = problem.gt_offsets(rel_R, rel_t, labels, anchors)
                target = problem.offsets(ctx['relation0'], labels, anchors)
                losses['offsets'] = (current - target).abs().flatten(1).mean(dim=1)
        return losses

    @staticmethod
    def _compose(body_model, variables: Dict[str, torch.Tensor], groups: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Camera-space parameters per instance from the variables."""
        body_pose = rot6d_to_matrix(variables['body_pose'])
        hoi_R = rot6d_to_matrix(variables['hoi_R'])
        hoi_t, betas = variables['hoi_t'], variables['betas']
        vertices_rel, _ = hoi_frame.body_in_hoi_frame(body_model, betas, body_pose)
        vertices = hoi_frame.to_camera(vertices_rel, hoi_R, hoi_t)
        rel_R, rel_t = rot6d_to_matrix(variables['rel_R']), variables['rel_t']
        object_R, object_t = StackFLOWRefiner._object_pose(hoi_R, hoi_t, rel_R, rel_t, groups)
        transl = hoi_frame.body_translation(body_model, betas, hoi_t)
        return dict(betas=betas[groups], global_orient=hoi_R[groups], body_pose=body_pose[groups], hoi_R=hoi_R[groups],
                    hoi_t=hoi_t[groups], transl=transl[groups], rel_R=rel_R, rel_t=rel_t, object_R=object_R,
                    object_t=object_t, human_vertices=vertices[groups])
