"""Sequence smoothing post-optimisation (method.md §6, "for videos"): StackFLOW's per-frame terms plus temporal
smoothness over the frames of one camera of one sequence, refined in overlapping windows."""
import dataclasses
import math
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
from tqdm import tqdm

from hoirecon.models.utils import hoi_frame, matrix_to_rot6d, rot6d_to_matrix
from hoirecon.registry import REFINERS
from .problem import RefinementProblem
from .stackflow_refiner import VARIABLES, RefinementResult, RefinementSetup, StackFLOWRefiner, adam_step

#: The smoothness terms: squared first differences between consecutive frames of the body pose (21 x 6D), the HOI
#: rotation (6D) and translation (the camera-frame root joint), and the object's camera-frame rotation (6D) and
#: translation.
SMOOTH_TERMS = ('smooth_body_pose', 'smooth_hoi_R', 'smooth_hoi_t', 'smooth_object_R', 'smooth_object_t')
#: What ``init`` must carry, (B, ...) each.
INIT_KEYS = ('betas', 'global_orient', 'body_pose', 'hoi_t', 'object_R', 'object_t')


def sequence_windows(num_frames: int, window: int = 128, stride: int = 64) -> List[Tuple[int, int]]:
    """The windows ``[start, end)`` (frame positions in time order) that cover a sequence of ``num_frames``.

    Windows start at ``0, stride, 2 stride, ...``; the first that reaches the last frame is the last one and is cut
    at the sequence's end (so it may be shorter than ``window``). A sequence of at most ``window`` frames is one
    window. 300 frames with window 128 / stride 64: ``[0, 128), [64, 192), [128, 256), [192, 300)``.
    """
    if int(window) < 1 or not 1 <= int(stride) <= int(window):
        raise ValueError(f'sequence_windows: need window >= 1 and 1 <= stride <= window (no frame left out), got '
                         f'window={window}, stride={stride}.')
    if num_frames < 0:
        raise ValueError(f'sequence_windows: num_frames must be >= 0, got {num_frames}.')
    windows, start = [], 0
    while num_frames:
        end = min(start + window, num_frames)
        windows.append((start, end))
        if end == num_frames:
            break
        start += stride
    return windows


def window_owners(num_frames: int, windows: List[Tuple[int, int]]) -> torch.Tensor:
    """(num_frames,) long: the window whose result each frame takes, the one in which it is most central.

    A frame's centrality in a window is the number of frames of that window on its shorter side, where the side
    towards the sequence's first or last frame counts as unlimited (no frame lies beyond it, so cutting there loses
    no context): ``min(i - start if start > 0 else inf, end - 1 - i if end < num_frames else inf)``. The frame takes
    the window with the largest centrality; ties go to the earlier window. For full windows this is the window
    whose centre is nearest; with window 128 / stride 64 each inner window gives its central 64 frames
    ``[start + 32, start + 96)``, the first window also its first 32 and the last everything after its 32nd frame.

    Raises:
        ValueError: a frame in no window.
    """
    best = torch.full((num_frames, ), -math.inf, dtype=torch.float64)
    owner = torch.full((num_frames, ), -1, dtype=torch.long)
    for k, (start, end) in enumerate(windows):
        frames = torch.arange(start, end, dtype=torch.float64)
        before = frames - start if start > 0 else torch.full_like(frames, math.inf)
        after = (end - 1) - frames if end < num_frames else torch.full_like(frames, math.inf)
        centrality = torch.minimum(before, after)
        better = centrality > best[start:end]
        best[start:end] = torch.where(better, centrality, best[start:end])
        owner[start:end] = torch.where(better, torch.full_like(owner[start:end], k), owner[start:end])
    if bool((owner < 0).any()):
        raise ValueError(f'window_owners: frames {torch.nonzero(owner < 0)[:, 0].tolist()[:10]} are in no window.')
    return owner


def subset_problem(problem: RefinementProblem, index: torch.Tensor) -> RefinementProblem:
    """The problem of the instances ``index`` (T,) of ``problem``.

    The relation encoding and the offsets take the labels as arguments and are shared; the image-conditioned
    ``log_prob`` closes over all B images, so the subset's log-density evaluates the full batch with the subset's
    rows put in (the other rows hold the identity pose and a zero relation; rows are independent) and reads the
    subset's rows back: correct, but the flows cost B rows per call. A sequence longer than one window is therefore
    better given a ``window_problem`` factory (:meth:`SequenceSmoothingRefiner.refine`).
    """
    batch = problem.batch_size
    index = index.to(problem.device).long()
    if index.shape[0] == batch and bool((index == torch.arange(batch, device=index.device)).all()):
        return problem
    if problem.log_prob is None:
        return dataclasses.replace(problem, labels=problem.labels[index])
    full_log_prob = problem.log_prob

    def log_prob(pose_6d: torch.Tensor, relation: torch.Tensor) -> Dict[str, torch.Tensor]:
        identity = matrix_to_rot6d(torch.eye(3, dtype=pose_6d.dtype, device=pose_6d.device))
        pose_rows = identity.expand(batch, *pose_6d.shape[1:]).clone().index_copy(0, index, pose_6d)
        relation_rows = relation.new_zeros((batch, *relation.shape[1:])).index_copy(0, index, relation)
        return {key: value[index] for key, value in full_log_prob(pose_rows, relation_rows).items()}

    return dataclasses.replace(problem, labels=problem.labels[index], log_prob=log_prob)


@REFINERS.register_module()
class SequenceSmoothingRefiner:
    """StackFLOW's post-optimisation of the frames of one camera of one sequence, jointly, with temporal smoothness.

    The per-frame terms are :class:`StackFLOWRefiner`'s, computed by a StackFLOWRefiner that this refiner holds
    (``frame_refiner``, built from the same keyword arguments: ``num_stages``, ``steps_per_stage``, ``lr``,
    ``loss_weights``, ``weight_decay``, ``pixel_scale``, ``reference_width``, ``object_init``, ``pnp_cfg``,
    ``pnp_check``, ``optimize``, ``optimizer_per_stage``). Added per window of T frames in time order:

    ==========================  =======================================================================
    ``smooth_body_pose``        ``|theta_{t+1} - theta_t|^2`` of the 21 body rotations (6D), mean over the 126 numbers
    ``smooth_hoi_R``            the same of the global (HOI) rotation, 6D
    ``smooth_hoi_t``            the same of the camera-frame root joint ``hoi_t`` (metres), mean over x, y, z
    ``smooth_object_R``         the same of the object's camera-frame rotation ``R_hoi R_rel``, 6D
    ``smooth_object_t``         the same of the object's camera-frame translation (metres)
    ==========================  =======================================================================

    Each is a per-pair mean over its numbers (rotations as the 6D of the orthonormalised matrix, so the free scale
    of a 6D variable does not count), **summed** over the T - 1 consecutive pairs, like the frame terms, which are
    summed over the frames: a frame feels the same smoothness whatever the window's length. The total is
    ``sum_frames sum_terms w0 f L + smooth_weight f_s sum_pairs sum_smooth w_s S`` with the stage factor
    ``f = 1 / (1 + weight_decay * stage)``; ``f_s = f`` (``anneal_smoothness=True``, the default: the balance
    between data and smoothness stays the same in both stages, and with one Adam the second stage takes smaller
    steps overall) or 1. A pair with a non-finite start on either side is left out (that frame is carried through).

    The body shape is one ``betas`` per window (a sequence has one person): optimised when ``'betas'`` is in
    ``optimize``, else fixed; either way it starts from the mean of the window's (finite) starting betas.

    Windows of ``window`` frames every ``stride`` frames (:func:`sequence_windows`; the last is shorter) are
    refined one after the other, each with its own Adam, all its frames in one batch; each frame's result comes
    from the window in which it is most central (:func:`window_owners`). Consecutive rows of the time order are
    neighbours, whatever the gap in frame numbers between them.

    Args:
        window: frames per window (StackFLOW: 128).
        stride: frames between window starts (64).
        smooth_weight: weight of the smoothness terms (100).
        smooth_terms: relative weight of each of :data:`SMOOTH_TERMS` (default 1 each; 0 switches one off).
        anneal_smoothness: weight the smoothness by the stage factor too (default) or not.
        show_progress: tqdm bar over windows x steps.
        **frame_settings: the per-frame settings, arguments of :class:`StackFLOWRefiner`.
    """

    def __init__(self,
                 window: int = 128,
                 stride: int = 64,
                 smooth_weight: float = 100.0,
                 smooth_terms: Optional[Dict[str, float]] = None,
                 anneal_smoothness: bool = True,
                 show_progress: bool = False,
                 **frame_settings):
        sequence_windows(0, window, stride)  # checks window and stride
        if float(smooth_weight) < 0:
            raise ValueError(f'SequenceSmoothingRefiner: smooth_weight must be >= 0, got {smooth_weight}.')
        unknown = sorted(set(smooth_terms or {}) - set(SMOOTH_TERMS))
        if unknown:
            raise KeyError(f'SequenceSmoothingRefiner: unknown smooth_terms {unknown}; known: {list(SMOOTH_TERMS)}')
        try:
            self.frame_refiner = StackFLOWRefiner(**frame_settings)
        except TypeError as error:
            raise TypeError(f'SequenceSmoothingRefiner: {error} (the per-frame settings are the arguments of '
                            'StackFLOWRefiner).') from None
        self.window = int(window)
        self.stride = int(stride)
        self.smooth_weight = float(smooth_weight)
        self.smooth_terms = {**{name: 1.0 for name in SMOOTH_TERMS}, **(smooth_terms or {})}
        self.anneal_smoothness = bool(anneal_smoothness)
        self.show_progress = show_progress

    # the per-frame settings, read through
    num_stages = property(lambda self: self.frame_refiner.num_stages)
    steps_per_stage = property(lambda self: self.frame_refiner.steps_per_stage)
    lr = property(lambda self: self.frame_refiner.lr)
    loss_weights = property(lambda self: self.frame_refiner.loss_weights)
    optimize = property(lambda self: self.frame_refiner.optimize)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(window={self.window}, stride={self.stride}, smooth_weight='
                f'{self.smooth_weight}, anneal_smoothness={self.anneal_smoothness}, frames={self.frame_refiner!r})')

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _check_inputs(problem, init, observations, camera, frame_order) -> int:
        if not hasattr(problem, 'labels') or not hasattr(problem, 'body_model'):
            raise TypeError('SequenceSmoothingRefiner: problem must be a RefinementProblem (e.g. '
                            f'model.refinement_problem(feature, labels)), got {type(problem).__name__}.')
        batch = problem.batch_size
        if batch == 0:
            raise ValueError('SequenceSmoothingRefiner: problem has no frames (batch of 0).')
        missing = [key for key in INIT_KEYS if key not in init]
        if missing:
            raise KeyError(f'SequenceSmoothingRefiner: init lacks {missing} (needs {list(INIT_KEYS)}).')
        for name, values in (('init', init), ('observations', observations), ('camera', camera)):
            for key, value in values.items():
                if value.dim() == 0 or value.shape[0] != batch:
                    raise ValueError(f"SequenceSmoothingRefiner: {name}['{key}'] has shape {tuple(value.shape)}, "
                                     f'but the problem has {batch} frames (leading dimension B = {batch}).')
        if frame_order is not None:
            frame_order = torch.as_tensor(frame_order)
            if frame_order.shape != (batch, ) or frame_order.is_floating_point() or frame_order.is_complex():
                raise ValueError(f'SequenceSmoothingRefiner: frame_order must be (B,) = ({batch},) integers (the '
                                 f'time index of each frame), got {tuple(frame_order.shape)} {frame_order.dtype}.')
            if torch.unique(frame_order).numel() != batch:
                raise ValueError('SequenceSmoothingRefiner: frame_order has repeated values; each frame needs its '
                                 'own time index (one camera of one sequence).')
        if batch == 1:
            warnings.warn('SequenceSmoothingRefiner: a sequence of one frame: the smoothness terms are a no-op, the '
                          'frame is refined by the per-frame terms alone.')
        return batch

    # ------------------------------------------------------------------ main
    def refine(self,
               problem: RefinementProblem,
               init: Dict[str, torch.Tensor],
               observations: Dict[str, torch.Tensor],
               camera: Dict[str, torch.Tensor],
               frame_order: Optional[torch.Tensor] = None,
               window_problem: Optional[Callable[[torch.Tensor], RefinementProblem]] = None,
               groups: Optional[torch.Tensor] = None) -> RefinementResult:
        """Refine the B frames of one camera of one sequence.

        Args:
            problem: the model side for the B frames (one person-object instance per frame), e.g.
                ``model.refinement_problem(feature, labels)``.
            init, observations, camera: as :meth:`StackFLOWRefiner.refine`, (B, ...) each.
            frame_order: (B,) integer time index of each row (e.g. frame numbers); None = the rows are in time
                order.
            window_problem: optional ``index (T,) -> RefinementProblem`` of the rows ``index`` (e.g. ``lambda
                index: model.refinement_problem(feature[index], labels[index])``), so that a window's flows run on
                its T rows only; without it a window of a longer batch uses :func:`subset_problem`.
            groups: accepted for :meth:`HOIReconstructor.predict`'s call: None or one person per row (several
                objects of one person in a frame are not supported here: ValueError).

        Returns:
            :class:`~hoirecon.models.refiners.stackflow_refiner.RefinementResult` in the rows' order: ``params``
            per frame (from its most central window), ``losses`` the final per-frame terms and, per frame, each
            smoothness term averaged over the frame's pairs with its neighbours in the output, ``history`` the
            per-step weighted total over all windows divided by the frames in them.
        """
        batch = self._check_inputs(problem, init, observations, camera, frame_order)
        if groups is not None and torch.unique(torch.as_tensor(groups)).numel() != batch:
            raise ValueError('SequenceSmoothingRefiner: groups puts several objects on one person; the sequence '
                             'refiner takes one person-object pair per frame (groups=None).')
        frame = self.frame_refiner
        device = problem.device
        setup = frame.prepare(problem, init, observations, camera)
        order = torch.arange(batch, device=device) if frame_order is None else \
            torch.argsort(torch.as_tensor(frame_order, device=device), stable=True)
        windows = sequence_windows(batch, self.window, self.stride)
        owners = window_owners(batch, windows).to(device)
        steps = frame.num_stages * frame.steps_per_stage
        bar = tqdm(total=len(windows) * steps, desc='sequence smoothing', disable=not self.show_progress)
        final = {key: value.detach().clone() for key, value in setup.start.items()}
        totals, frames_in_windows = [], 0
        for k, (start, end) in enumerate(windows):
            bar.set_postfix_str(f'window {k + 1}/{len(windows)}')
            index = order[start:end]
            context = self._window_context(setup, index, problem, window_problem)
            variables, window_totals = self._optimise_window(setup, index, context, bar)
            totals.append(window_totals)
            frames_in_windows += end - start
            owned = owners[start:end] == k
            for key in VARIABLES:
                value = variables[key].detach()
                value = value.expand(end - start, -1) if key == 'betas' else value
                final[key][index[owned]] = value[owned]
        bar.close()
        history = (torch.stack(totals).sum(0) / frames_in_windows).tolist() if steps else []
        result = frame.finish(setup, final, history)
        with torch.no_grad():
            result.losses.update(self._frame_smoothness(final, order, setup.finite))
        return result

    __call__ = refine

    def _window_context(self, setup: RefinementSetup, index: torch.Tensor, problem: RefinementProblem,
                        window_problem: Optional[Callable]) -> dict:
        """The context of :meth:`StackFLOWRefiner._losses` for the rows ``index`` (T,) of the sequence."""
        context = dict(setup.context)
        sub = window_problem(index) if window_problem is not None else subset_problem(problem, index)
        if sub.batch_size != index.shape[0]:
            raise ValueError(f'SequenceSmoothingRefiner: window_problem gave a problem of {sub.batch_size} '
                             f'instances for a window of {index.shape[0]} frames.')
        rows = torch.arange(index.shape[0], device=index.device)
        relation0 = context['relation0']
        context.update(problem=sub, labels=sub.labels, groups=rows, first=rows,
                       obs={key: value[index] for key, value in context['obs'].items()},
                       camera={key: value[index] for key, value in context['camera'].items()},
                       relation0=None if relation0 is None else relation0[index])
        return context

    def _optimise_window(self, setup: RefinementSetup, index: torch.Tensor, context: dict, bar) -> tuple:
        """Adam on one window's variables (one shared ``betas``); returns them and the (steps,) weighted totals."""
        frame = self.frame_refiner
        finite = setup.finite[index]
        weight_mask = finite.to(context['problem'].dtype)
        betas = setup.start['betas'][index]
        shared = (betas[finite] if bool(finite.any()) else betas).mean(dim=0, keepdim=True)
        variables = {key: (shared if key == 'betas' else setup.start[key][index]).clone()
                     .requires_grad_(key in frame.optimize) for key in VARIABLES}
        trainable = [value for key, value in variables.items() if key in frame.optimize]
        pair_mask = (finite[1:] & finite[:-1]).to(weight_mask)
        smoothing = self.smooth_weight > 0 and index.shape[0] > 1 and any(w > 0 for w in self.smooth_terms.values())
        terms = setup.terms
        totals: List[torch.Tensor] = []
        with torch.enable_grad():
            for factor, optimizer in frame.adam_steps(trainable):
                bar.update(1)
                if not terms and not smoothing:
                    totals.append(weight_mask.new_zeros(()))
                    continue
                view = self._per_frame(variables, index.shape[0])
                total = weight_mask.new_zeros(())
                if terms:
                    losses = frame._losses(view, terms, context)
                    total = (sum(frame.loss_weights[t] * factor * losses[t] for t in terms) * weight_mask).sum()
                if smoothing:
                    smooth = self._pair_smoothness(view, pair_mask)
                    scale = self.smooth_weight * (factor if self.anneal_smoothness else 1.0)
                    total = total + scale * sum(self.smooth_terms[name] * value.sum()
                                                for name, value in smooth.items())
                totals.append(total.detach())
                adam_step(optimizer, total, trainable)
        steps = frame.num_stages * frame.steps_per_stage
        return variables, torch.stack(totals) if totals else weight_mask.new_zeros(steps)

    @staticmethod
    def _per_frame(variables: Dict[str, torch.Tensor], frames: int) -> Dict[str, torch.Tensor]:
        """The window's variables with its one ``betas`` repeated for each of its frames."""
        return dict(variables, betas=variables['betas'].expand(frames, -1))

    def _pair_smoothness(self, variables: Dict[str, torch.Tensor], pair_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """(T - 1,) unweighted smoothness of each consecutive pair of frames (rows in time order), per term with a
        positive weight; pairs with a non-finite frame are 0."""
        hoi_R = rot6d_to_matrix(variables['hoi_R'])
        wanted = [name for name in SMOOTH_TERMS if self.smooth_terms[name] > 0]
        series = {}
        if 'smooth_body_pose' in wanted:
            series['smooth_body_pose'] = matrix_to_rot6d(rot6d_to_matrix(variables['body_pose']))
        if 'smooth_hoi_R' in wanted:
            series['smooth_hoi_R'] = matrix_to_rot6d(hoi_R)
        if 'smooth_hoi_t' in wanted:
            series['smooth_hoi_t'] = variables['hoi_t']
        if {'smooth_object_R', 'smooth_object_t'} & set(wanted):
            object_R, object_t = hoi_frame.compose_object_pose(hoi_R, variables['hoi_t'],
                                                               rot6d_to_matrix(variables['rel_R']), variables['rel_t'])
            if 'smooth_object_R' in wanted:
                series['smooth_object_R'] = matrix_to_rot6d(object_R)
            if 'smooth_object_t' in wanted:
                series['smooth_object_t'] = object_t
        return {name: ((value[1:] - value[:-1])**2).flatten(1).mean(dim=1) * pair_mask
                for name, value in series.items()}

    def _frame_smoothness(self, final: Dict[str, torch.Tensor], order: torch.Tensor,
                          finite: torch.Tensor) -> Dict[str, torch.Tensor]:
        """(B,) per row: each smoothness term of the output, averaged over the row's pairs with its neighbours."""
        batch = order.shape[0]
        ordered = {key: value[order] for key, value in final.items()}
        finite = finite[order]
        pair_mask = (finite[1:] & finite[:-1]).to(final['hoi_t'])
        out = {}
        if batch < 2:
            return {name: final['hoi_t'].new_zeros(batch) for name in SMOOTH_TERMS if self.smooth_terms[name] > 0}
        counts = final['hoi_t'].new_zeros(batch)
        counts[1:] += pair_mask
        counts[:-1] += pair_mask
        for name, pairs in self._pair_smoothness(ordered, pair_mask).items():
            per_frame = pairs.new_zeros(batch)
            per_frame[1:] += pairs
            per_frame[:-1] += pairs
            value = per_frame / counts.clamp(min=1)
            out[name] = torch.empty_like(value).index_copy(0, order, value)  # back to the rows' order
        return out
