"""SMPL, SMPL-H and SMPL-X as torch modules taking rotation matrices (like smplx's ``*Layer`` classes).

The wrappers read the standard smplx files (or the licence-free surrogate, see
:mod:`hoirecon.assets.surrogate_body`), check them with errors that say how to fix a problem, and
skin with smplx's ``lbs``. Differences to smplx's layers:

- No batch-size state: the batch size comes from whichever input is given;
  missing poses are identity rotations, missing betas / translation zeros.
- Works on the device and dtype of the inputs (buffers are cast on the fly), so
  one module serves float32 training and float64 fitting on any device.
- SMPL-H / SMPL-X hands take full rotation matrices and apply no hand mean
  (``flat_hand_mean=True``, as BEHAVE's fits expect).
- The output is a plain :class:`BodyModelOutput` (vertices, smplx's joint set, faces).
"""
import logging
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import nn

from hoirecon.assets.surrogate_body import DEFAULT_MODEL_TYPES, ensure_surrogate_body
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.registry import BODY_MODELS
from hoirecon.structures.body25 import BODY25_REGRESSOR_FILES, build_body25_regressor, load_joint_regressor_txt
from hoirecon.structures.body_skeletons import (NUM_BODY_POSE_JOINTS, NUM_HAND_JOINTS, NUM_SKELETON_JOINTS,
                                                smplx_vertex_ids)
from .model_files import check_model_data, dense, import_smplx, load_model_data, resolve_model_file

#: SMPL-X files with fewer shape components than this keep 10 betas + 10 expression coefficients (smplx's rule).
_SMPLX_FULL_SHAPE_SPACE = 400
_SMPLX_SHAPE_SPACE = 300
_NUM_EXPRESSION = 10
_surrogate_warned = False


def body_part_labels(weights: np.ndarray, parents: np.ndarray, num_parts: int = 22) -> np.ndarray:
    """Label each vertex with one of the first ``num_parts`` skeleton joints (StackFLOW's body parts).

    StackFLOW takes ``argmax(weights[:, :22])``. Joints past the 22 body joints (SMPL's hands, SMPL-H's fingers)
    are first folded into their nearest ancestor among the body joints, so that finger vertices belong to the
    wrist instead of falling to part 0 (pelvis) when all their body weights are zero.

    Args:
        weights: (V, J) skinning weights.
        parents: (J,) parent index of each joint, ``parents[0] = -1``.

    Returns:
        (V,) int64 part label in ``[0, num_parts)``.
    """
    folded = weights[:, :num_parts].copy()
    for joint in range(num_parts, weights.shape[1]):
        ancestor = joint
        while ancestor >= num_parts:
            ancestor = int(parents[ancestor])
        folded[:, ancestor] += weights[:, joint]
    return np.argmax(folded, axis=1).astype(np.int64)


@dataclass
class BodyModelOutput:
    """Posed bodies.

    Attributes:
        vertices: (B, V, 3) float, metres.
        joints: (B, J, 3) float, metres; smplx's joint set: skeleton joints, then 21 landmark vertices (nose,
            eyes, ears, toes, heels, fingertips), then for SMPL-X 51 face landmarks (SMPL 45, SMPL-H 73,
            SMPL-X 127 joints).
        faces: (F, 3) torch.long vertex ids.
    """
    vertices: torch.Tensor
    joints: torch.Tensor
    faces: torch.Tensor


def _warn_surrogate(path: str) -> None:
    """Log once per process that a surrogate body is in use."""
    global _surrogate_warned
    if not _surrogate_warned:
        _surrogate_warned = True
        print_log(
            f'Using the licence-free SURROGATE body model ({path}): a procedural mannequin with the SMPL-family '
            'interface, NOT SMPL; numbers are not comparable to SMPL/SMPL-H/SMPL-X results. See '
            'docs/body_models.md for the real model files.',
            logger='current',
            level=logging.WARNING)


def _check_smplx_options(cls_name: str, options: Dict) -> Optional[str]:
    """Accept smplx constructor options that match the wrapper's semantics; return the preferred extension."""
    allowed = {'ext', 'batch_size', 'use_pca', 'flat_hand_mean'}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f'{cls_name}: unexpected arguments {unknown}; accepted: model_path, gender, num_betas, '
                        f'body25_regressor_file, dtype and the smplx options {sorted(allowed)}.')
    if options.get('use_pca', False):
        raise ValueError(f'{cls_name}: use_pca=True is not supported; hand poses are full (B, 15, 3, 3) rotation '
                         'matrices (convert PCA hand coefficients with the hands_components of the model file).')
    if not options.get('flat_hand_mean', True):
        raise ValueError(f'{cls_name}: flat_hand_mean=False is not supported; the wrapper applies no hand mean '
                         '(add the mean to your hand poses before calling it).')
    return options.get('ext')


class _SMPLFamilyModel(nn.Module):
    """Shared loading and skinning of :class:`SMPL`, :class:`SMPLH` and :class:`SMPLX` (see their docs).

    A subclass names its model type and its rotation inputs (:attr:`POSE_INPUTS`); :meth:`forward` (SMPL-X adds
    its face inputs) hands the keyword arguments to :meth:`_forward_rotations`.
    """

    MODEL_TYPE = ''
    #: ``(input name, joints)`` of the rotation-matrix inputs of ``forward``, in skeleton joint order.
    POSE_INPUTS: Tuple[Tuple[str, int], ...] = ()
    #: Error for a ``forward`` input the model has no joints for (SMPL's hand poses).
    NO_JOINTS_MESSAGE = '{model} has no joints for {names}: they must be None.'

    def __init__(self,
                 model_path: str = 'surrogate',
                 gender: str = 'neutral',
                 num_betas: int = 10,
                 body25_regressor_file: Optional[str] = None,
                 dtype: torch.dtype = torch.float32,
                 **smplx_options) -> None:
        super().__init__()
        cls_name = type(self).__name__
        model_type = self.MODEL_TYPE
        ext = _check_smplx_options(cls_name, smplx_options)
        model_path = os.fspath(model_path)
        if model_path == 'surrogate':
            # SMPL and SMPL-H are built together on first use; SMPL-X is added to the same folder when asked for
            wanted = ('smplx', ) if model_type == 'smplx' else DEFAULT_MODEL_TYPES
            model_path = ensure_surrogate_body(model_types=wanted)
        self.model_file = resolve_model_file(model_path, model_type, gender, ext)
        data = load_model_data(self.model_file)
        check_model_data(data, self.model_file, model_type)
        self.model_type = model_type
        self.gender = gender
        self.is_surrogate = 'surrogate_info' in data
        if self.is_surrogate:
            _warn_surrogate(self.model_file)

        shapedirs = dense(data['shapedirs']).astype(np.float64)
        if shapedirs.ndim == 2:
            shapedirs = shapedirs[:, :, None]
        num_shape = shapedirs.shape[2]
        if model_type == 'smplx':
            shape_space = _SMPLX_SHAPE_SPACE if num_shape >= _SMPLX_FULL_SHAPE_SPACE else _NUM_EXPRESSION
            expr_dirs = shapedirs[:, :, shape_space:shape_space + _NUM_EXPRESSION]
            self.register_buffer('expr_dirs', torch.as_tensor(expr_dirs, dtype=dtype), persistent=False)
            num_shape = min(num_shape, shape_space)
        if not 1 <= num_betas <= num_shape:
            raise ValueError(f'{cls_name}: num_betas={num_betas}, but {self.model_file} has {num_shape} shape '
                             'components.')
        self.num_betas = num_betas
        self.num_joints = NUM_SKELETON_JOINTS[model_type]

        j_regressor = dense(data['J_regressor']).astype(np.float64)
        weights = dense(data['weights']).astype(np.float64)
        posedirs = dense(data['posedirs']).astype(np.float32)
        self.faces = dense(data['f']).astype(np.int64)
        self.parents = dense(data['kintree_table'])[0].astype(np.int64)
        self.parents[0] = -1
        self.skinning_weights = weights.astype(np.float32)
        self.part_labels = body_part_labels(weights, self.parents)
        vertex_ids = smplx_vertex_ids(model_type)
        extra_ids = [
            vertex_ids[k] for k in ('nose', 'reye', 'leye', 'rear', 'lear', 'LBigToe', 'LSmallToe', 'LHeel', 'RBigToe',
                                    'RSmallToe', 'RHeel')
        ]
        extra_ids += [vertex_ids[side + tip] for side in 'lr' for tip in ('thumb', 'index', 'middle', 'ring', 'pinky')]

        def buffer(name, array, buffer_dtype=dtype):
            self.register_buffer(name,
                                 torch.as_tensor(np.ascontiguousarray(array), dtype=buffer_dtype),
                                 persistent=False)

        buffer('v_template', dense(data['v_template']))
        buffer('shapedirs', shapedirs[:, :, :num_betas])
        buffer('posedirs', posedirs.reshape(-1, posedirs.shape[-1]).T)
        buffer('J_regressor', j_regressor)
        buffer('lbs_weights', weights)
        buffer('parents_tensor', self.parents, torch.long)
        buffer('faces_tensor', self.faces, torch.long)
        buffer('extra_vertex_ids', np.asarray(extra_ids), torch.long)
        buffer('body25_regressor', self._body25_regressor(body25_regressor_file, j_regressor, vertex_ids))
        if model_type == 'smplx':
            buffer('lmk_faces_idx', dense(data['lmk_faces_idx']).astype(np.int64), torch.long)
            buffer('lmk_bary_coords', dense(data['lmk_bary_coords']))

    def _body25_regressor(self, path: Optional[str], j_regressor: np.ndarray, vertex_ids: Dict[str, int]):
        """(25, V) BODY_25 regressor: ``path``, else the txt file next to the model file, else built."""
        if path is None and self.model_type in BODY25_REGRESSOR_FILES:
            default = osp.join(osp.dirname(self.model_file), BODY25_REGRESSOR_FILES[self.model_type])
            path = default if osp.isfile(default) else None
        if path is None:
            return build_body25_regressor(j_regressor, vertex_ids)
        regressor = load_joint_regressor_txt(path)
        if regressor.shape[0] < 25 or regressor.shape[1] != j_regressor.shape[1]:
            raise ValueError(f'{path}: BODY_25 regressor of shape {regressor.shape} does not fit '
                             f'{self.model_file} ({j_regressor.shape[1]} vertices, need >= 25 rows).')
        return regressor[:25]

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    def extra_repr(self) -> str:
        surrogate = ', SURROGATE' if self.is_surrogate else ''
        return f'{self.model_type} {self.gender}, num_betas={self.num_betas}, file={self.model_file}{surrogate}'

    # ------------------------------------------------------------------ input handling
    def _reference(self, inputs: Dict[str, Optional[torch.Tensor]]):
        """Batch size, dtype and device from the given inputs (all must agree on the batch size)."""
        given = {name: t for name, t in inputs.items() if t is not None}
        sizes = {t.shape[0] for t in given.values()}
        if len(sizes) > 1:
            shapes = {name: tuple(t.shape) for name, t in given.items()}
            raise ValueError(f'{type(self).__name__}: inputs disagree on the batch size: {shapes}.')
        if not given:
            return 1, self.v_template.dtype, self.v_template.device
        first = next(iter(given.values()))
        dtype = first.dtype if first.is_floating_point() else self.v_template.dtype
        return sizes.pop(), dtype, first.device

    def _rotations(self, name: str, value: Optional[torch.Tensor], batch: int, count: int, dtype, device):
        """(B, count, 3, 3) rotation matrices; identity when ``value`` is None."""
        if value is None:
            return torch.eye(3, dtype=dtype, device=device).expand(batch, count, 3, 3)
        if value.numel() != batch * count * 9:
            hint = ' (axis-angle? use forward_axis_angle)' if value.shape[-1] != 3 or value.dim() < 3 else ''
            raise ValueError(f'{type(self).__name__}: {name} must hold (B, {count}, 3, 3) rotation matrices, '
                             f'got shape {tuple(value.shape)}{hint}.')
        return value.to(device=device, dtype=dtype).reshape(batch, count, 3, 3)

    def _betas(self, betas: Optional[torch.Tensor], batch: int, dtype, device) -> torch.Tensor:
        if betas is None:
            return torch.zeros(batch, self.num_betas, dtype=dtype, device=device)
        if betas.dim() != 2 or betas.shape[1] > self.num_betas:
            raise ValueError(f'{type(self).__name__}: betas must have shape (B, <= {self.num_betas}), got '
                             f'{tuple(betas.shape)} (raise num_betas to use more components).')
        return betas.to(device=device, dtype=dtype)

    def _translation(self, transl: Optional[torch.Tensor], batch: int, dtype, device) -> Optional[torch.Tensor]:
        if transl is None:
            return None
        if tuple(transl.shape) != (batch, 3):
            raise ValueError(f'{type(self).__name__}: transl must have shape ({batch}, 3), got {tuple(transl.shape)}.')
        return transl.to(device=device, dtype=dtype)

    # ------------------------------------------------------------------ skinning
    def _skin(self,
              betas: torch.Tensor,
              rotations: torch.Tensor,
              transl: Optional[torch.Tensor],
              expression: Optional[torch.Tensor] = None) -> BodyModelOutput:
        """Linear blend skinning of full poses.

        Args:
            betas: (B, K) shape coefficients, K <= num_betas.
            rotations: (B, J, 3, 3) rotation of every skeleton joint relative to its parent (joint 0: global).
            transl: (B, 3) translation added after posing, metres, or None.
            expression: (B, <=10) SMPL-X expression coefficients or None.

        Returns:
            :class:`BodyModelOutput` on the device / dtype of ``rotations``.
        """
        lbs = import_smplx().lbs
        dtype, device = rotations.dtype, rotations.device
        rotations = rotations.contiguous()

        def cast(t):
            return t.to(device=device, dtype=dtype)

        shape_coeffs = betas
        shapedirs = cast(self.shapedirs[:, :, :betas.shape[1]])
        if self.model_type == 'smplx':
            if expression is None:
                expression = torch.zeros(betas.shape[0], _NUM_EXPRESSION, dtype=dtype, device=device)
            shape_coeffs = torch.cat([betas, cast(expression)], dim=1)
            shapedirs = torch.cat([shapedirs, cast(self.expr_dirs[:, :, :expression.shape[1]])], dim=2)
        vertices, joints = lbs.lbs(shape_coeffs,
                                   rotations,
                                   cast(self.v_template),
                                   shapedirs,
                                   cast(self.posedirs),
                                   cast(self.J_regressor),
                                   self.parents_tensor.to(device),
                                   cast(self.lbs_weights),
                                   pose2rot=False)
        parts = [joints, vertices.index_select(1, self.extra_vertex_ids.to(device))]
        if self.model_type == 'smplx':
            batch = vertices.shape[0]
            parts.append(
                lbs.vertices2landmarks(vertices, self.faces_tensor.to(device),
                                       self.lmk_faces_idx.to(device).expand(batch, -1).contiguous(),
                                       cast(self.lmk_bary_coords).expand(batch, -1, -1).contiguous()))
        joints = torch.cat(parts, dim=1)
        if transl is not None:
            vertices = vertices + transl[:, None]
            joints = joints + transl[:, None]
        return BodyModelOutput(vertices=vertices, joints=joints, faces=self.faces_tensor.to(device))

    def _forward_rotations(self, inputs: Dict[str, Optional[torch.Tensor]]) -> BodyModelOutput:
        """The ``forward`` of every model: pose the :attr:`POSE_INPUTS` rotations (identity when missing).

        Args:
            inputs: ``forward``'s keyword arguments in the order of its signature (the first given tensor sets
                the dtype and device): ``betas``, ``transl``, each name of :attr:`POSE_INPUTS` and, for SMPL-X,
                ``expression``.

        Returns:
            :class:`BodyModelOutput`.
        """
        accepted = {'betas', 'transl', 'expression'} | {name for name, _ in self.POSE_INPUTS}
        extra = [name for name, value in inputs.items() if value is not None and name not in accepted]
        if extra:
            raise ValueError(self.NO_JOINTS_MESSAGE.format(model=type(self).__name__, names=extra))
        batch, dtype, device = self._reference(inputs)
        expression = inputs.get('expression')
        if expression is not None and (expression.dim() != 2 or expression.shape[1] > _NUM_EXPRESSION):
            raise ValueError(f'{type(self).__name__}: expression must have shape (B, <= {_NUM_EXPRESSION}), got '
                             f'{tuple(expression.shape)}.')
        rotations = [
            self._rotations(name, inputs.get(name), batch, count, dtype, device) for name, count in self.POSE_INPUTS
        ]
        rotations = torch.cat(rotations, dim=1)
        return self._skin(self._betas(inputs.get('betas'), batch, dtype, device), rotations,
                          self._translation(inputs.get('transl'), batch, dtype, device), expression)

    def forward(self, betas: Optional[torch.Tensor] = None, global_orient: Optional[torch.Tensor] = None,
                body_pose: Optional[torch.Tensor] = None, transl: Optional[torch.Tensor] = None,
                left_hand_pose: Optional[torch.Tensor] = None,
                right_hand_pose: Optional[torch.Tensor] = None) -> BodyModelOutput:
        """Pose bodies; missing poses are identity, missing betas / transl zero.

        Args:
            betas: (B, <=num_betas) shape coefficients.
            global_orient: (B, 3, 3) rotation of the pelvis in the world.
            body_pose: (B, J, 3, 3) rotations of joints 1..J relative to their parents (J: SMPL 23, SMPL-H and
                SMPL-X 21).
            transl: (B, 3) translation, metres.
            left_hand_pose: (B, 15, 3, 3) left finger joints (index, middle, pinky, ring, thumb; 3 each): SMPL-H
                joints 22..36, SMPL-X 25..39; must be None for SMPL (no finger joints).
            right_hand_pose: (B, 15, 3, 3) right finger joints: SMPL-H 37..51, SMPL-X 40..54.

        Returns:
            :class:`BodyModelOutput` with (B, V, 3) vertices (V: 6890, SMPL-X 10475) and (B, 45 / 73 / 127, 3)
            joints (SMPL / SMPL-H / SMPL-X).
        """
        return self._forward_rotations(dict(betas=betas, global_orient=global_orient, body_pose=body_pose,
                                            transl=transl, left_hand_pose=left_hand_pose,
                                            right_hand_pose=right_hand_pose))

    def forward_axis_angle(self,
                           betas: Optional[torch.Tensor] = None,
                           pose: Optional[torch.Tensor] = None,
                           transl: Optional[torch.Tensor] = None) -> BodyModelOutput:
        """Pose from one flat axis-angle vector in skeleton joint order (e.g. BEHAVE's 156-vector for SMPL-H).

        Args:
            betas: (B, <=num_betas) shape coefficients.
            pose: (B, 3k) axis-angle (radians) of the first k skeleton joints, joint 0 = global orientation,
                k <= num_joints (72 for SMPL, 156 for SMPL-H, 165 for SMPL-X; 66 poses the 22 body joints only);
                joints after k stay at rest.
            transl: (B, 3) translation, metres.

        Returns:
            :class:`BodyModelOutput`.
        """
        batch, dtype, device = self._reference({'pose': pose, 'betas': betas, 'transl': transl})
        rotations = torch.eye(3, dtype=dtype, device=device).expand(batch, self.num_joints, 3, 3)
        if pose is not None:
            if pose.dim() != 2 or pose.shape[1] % 3 or not 3 <= pose.shape[1] <= 3 * self.num_joints:
                raise ValueError(f'{type(self).__name__}.forward_axis_angle: pose must have shape (B, 3k) with '
                                 f'1 <= k <= {self.num_joints}, got {tuple(pose.shape)}.')
            posed = axis_angle_to_matrix(pose.to(device=device, dtype=dtype).reshape(batch, -1, 3))
            rotations = torch.cat([posed, rotations[:, posed.shape[1]:]], dim=1)
        return self._skin(self._betas(betas, batch, dtype, device), rotations,
                          self._translation(transl, batch, dtype, device))

    def rest_root_joint(self, betas: torch.Tensor) -> torch.Tensor:
        """Root joint J0 of the unposed body (needed to move a fit between frames: ``R^T(t + J0 - T) - J0``).

        Args:
            betas: (B, <=num_betas) shape coefficients.

        Returns:
            (B, 3) J0 in metres, on the device / dtype of ``betas``.
        """
        betas = self._betas(betas, betas.shape[0], betas.dtype, betas.device)
        row = self.J_regressor[0].to(betas)
        root = row @ self.v_template.to(betas)
        root_dirs = torch.einsum('v,vck->ck', row, self.shapedirs[:, :, :betas.shape[1]].to(betas))
        return root + betas @ root_dirs.T

    def posed_vertex_subset(self, betas: torch.Tensor, rotations: torch.Tensor,
                            vertex_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Linear blend skinning of a few vertices, for optimisers that need only some of them at every step.

        Joints after the given rotations stay at rest (e.g. SMPL-H hands), so their pose blend shapes are left
        out; shaped joints come from the joint regressor applied to the template and the shape directions (the
        regressor is linear), so nothing is computed for the other vertices. Equals
        ``forward(...).vertices[:, vertex_ids]`` and ``.joints[:, :num_joints]`` up to float rounding.

        Args:
            betas: (B, <=num_betas) shape coefficients.
            rotations: (B, K, 3, 3) rotations of the first K skeleton joints (joint 0: global orientation).
            vertex_ids: (n,) long vertex indices.

        Returns:
            vertices (B, n, 3) and posed skeleton joints (B, num_joints, 3), metres, no translation.
        """
        lbs = import_smplx().lbs
        batch, count = rotations.shape[:2]
        if rotations.shape[2:] != (3, 3) or not 1 <= count <= self.num_joints:
            raise ValueError(f'{type(self).__name__}.posed_vertex_subset: rotations must be (B, K, 3, 3) with '
                             f'1 <= K <= {self.num_joints}, got {tuple(rotations.shape)}.')
        dtype, device = rotations.dtype, rotations.device
        betas = self._betas(betas, batch, dtype, device)
        ids = vertex_ids.to(device)
        shapedirs = self.shapedirs[:, :, :betas.shape[1]].to(dtype)
        template = self.v_template.to(dtype)
        regressor = self.J_regressor.to(dtype)
        joints = regressor @ template + torch.einsum('bk,jck->bjc', betas,
                                                     torch.einsum('jv,vck->jck', regressor, shapedirs))
        shaped = template[ids] + torch.einsum('bk,vck->bvc', betas, shapedirs[ids])
        eye = torch.eye(3, dtype=dtype, device=device)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
        columns = (ids[:, None] * 3 + torch.arange(3, device=device)).reshape(-1)
        posedirs = self.posedirs.to(dtype)[:pose_feature.shape[1]].index_select(1, columns)
        posed = shaped + (pose_feature @ posedirs).reshape(batch, -1, 3)
        full = torch.cat([rotations, eye.expand(batch, self.num_joints - count, 3, 3)], dim=1)
        joints_posed, transforms = lbs.batch_rigid_transform(full, joints, self.parents_tensor.to(device), dtype=dtype)
        skin = (self.lbs_weights.to(dtype)[ids] @ transforms.reshape(batch, self.num_joints, 16)).reshape(
            batch, -1, 4, 4)
        vertices = (skin[..., :3, :3] @ posed[..., None])[..., 0] + skin[..., :3, 3]
        return vertices, joints_posed

    def body25(self, vertices: torch.Tensor) -> torch.Tensor:
        """OpenPose BODY_25 keypoints of posed meshes (order in :data:`~hoirecon.structures.body25.BODY25_JOINT_NAMES`).

        Args:
            vertices: (B, V, 3) vertices, metres.

        Returns:
            (B, 25, 3) keypoints.
        """
        return torch.einsum('jv,bvc->bjc', self.body25_regressor.to(vertices), vertices)


@BODY_MODELS.register_module()
class SMPL(_SMPLFamilyModel):
    """SMPL (24 joints, 6890 vertices) taking rotation matrices.

    Args:
        model_path: folder with ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (smplx layout), the ``smpl/`` folder
            itself, the file, or ``'surrogate'`` (licence-free mannequin, built once into the cache).
        gender: ``'neutral'``, ``'male'`` or ``'female'``.
        num_betas: shape coefficients used (<= components in the file).
        body25_regressor_file: StackFLOW-format BODY_25 regressor; default ``J_regressor_body25.txt`` next to
            the model file if present, else built from the joint regressor and smplx's landmark vertices.
        dtype: dtype of the stored buffers (inputs of another dtype still work).
        **smplx_options: smplx constructor options consistent with this wrapper (``ext``, ``batch_size`` [ignored],
            ``use_pca=False``, ``flat_hand_mean=True``).

    Example:
        >>> body = SMPL('surrogate')
        >>> out = body(betas=torch.zeros(2, 10))
        >>> out.vertices.shape, out.joints.shape
        (torch.Size([2, 6890, 3]), torch.Size([2, 45, 3]))
    """

    MODEL_TYPE = 'smpl'
    POSE_INPUTS = (('global_orient', 1), ('body_pose', NUM_BODY_POSE_JOINTS['smpl']))
    NO_JOINTS_MESSAGE = ('SMPL has no finger joints: left_hand_pose / right_hand_pose must be None '
                         '(use SMPLH for articulated hands).')


@BODY_MODELS.register_module()
class SMPLH(_SMPLFamilyModel):
    """SMPL-H (52 joints: 22 body + 2 x 15 finger joints, 6890 vertices) taking rotation matrices.

    Hand poses are full rotation matrices with no hand mean added (smplx's ``flat_hand_mean=True``), which
    reproduces BEHAVE's ``person_fit.ply`` from its 156-D poses.

    Args:
        model_path: folder with ``smplh/SMPLH_{NEUTRAL,MALE,FEMALE}.{pkl,npz}``, the ``smplh/`` folder, the file,
            or ``'surrogate'``.
        gender: ``'neutral'``, ``'male'`` or ``'female'`` (BEHAVE / StackFLOW use the gendered files).
        num_betas: shape coefficients used (<= components in the file; real SMPL-H has 16).
        body25_regressor_file: default ``J_regressor_body25_smplh.txt`` next to the model file if present
            (StackFLOW's file), else built from the joint regressor and smplx's landmark vertices.
        dtype: dtype of the stored buffers.
        **smplx_options: ``ext``, ``batch_size`` (ignored), ``use_pca=False``, ``flat_hand_mean=True``.
    """

    MODEL_TYPE = 'smplh'
    POSE_INPUTS = (('global_orient', 1), ('body_pose', NUM_BODY_POSE_JOINTS['smplh']),
                   ('left_hand_pose', NUM_HAND_JOINTS), ('right_hand_pose', NUM_HAND_JOINTS))


@BODY_MODELS.register_module()
class SMPLX(_SMPLFamilyModel):
    """SMPL-X (55 joints, 10475 vertices) taking rotation matrices.

    Args:
        model_path: folder with ``smplx/SMPLX_{NEUTRAL,MALE,FEMALE}.{npz,pkl}``, the ``smplx/`` folder, the file,
            or ``'surrogate'`` (licence-free mannequin: the SMPL-H surrogate with SMPL-X's joints and vertex count,
            added to the surrogate cache on first use; not SMPL-X).
        gender: ``'neutral'``, ``'male'`` or ``'female'`` (StackFLOW's InterCap path uses neutral).
        num_betas: shape coefficients used (<= 10 for files with 20 components, <= 300 for 400).
        body25_regressor_file: StackFLOW-format BODY_25 regressor; default built from the joint regressor and
            smplx's SMPL-X landmark vertices.
        dtype: dtype of the stored buffers.
        **smplx_options: ``ext``, ``batch_size`` (ignored), ``use_pca=False``, ``flat_hand_mean=True``.
    """

    MODEL_TYPE = 'smplx'
    POSE_INPUTS = (('global_orient', 1), ('body_pose', NUM_BODY_POSE_JOINTS['smplx']), ('jaw_pose', 1),
                   ('leye_pose', 1), ('reye_pose', 1), ('left_hand_pose', NUM_HAND_JOINTS),
                   ('right_hand_pose', NUM_HAND_JOINTS))

    def forward(self, betas: Optional[torch.Tensor] = None, global_orient: Optional[torch.Tensor] = None,
                body_pose: Optional[torch.Tensor] = None, transl: Optional[torch.Tensor] = None,
                left_hand_pose: Optional[torch.Tensor] = None, right_hand_pose: Optional[torch.Tensor] = None,
                expression: Optional[torch.Tensor] = None, jaw_pose: Optional[torch.Tensor] = None,
                leye_pose: Optional[torch.Tensor] = None, reye_pose: Optional[torch.Tensor] = None) -> BodyModelOutput:
        """The SMPL-H inputs of :meth:`_SMPLFamilyModel.forward` plus the face; missing expression is zero.

        Args:
            expression: (B, <=10) expression coefficients.
            jaw_pose: (B, 3, 3) jaw (joint 22).
            leye_pose: (B, 3, 3) left eye (joint 23).
            reye_pose: (B, 3, 3) right eye (joint 24).

        Returns:
            :class:`BodyModelOutput` with (B, V, 3) vertices and (B, 127, 3) joints.
        """
        return self._forward_rotations(dict(betas=betas, global_orient=global_orient, body_pose=body_pose,
                                            transl=transl, left_hand_pose=left_hand_pose,
                                            right_hand_pose=right_hand_pose, expression=expression,
                                            jaw_pose=jaw_pose, leye_pose=leye_pose, reye_pose=reye_pose))


__all__ = ['BodyModelOutput', 'SMPL', 'SMPLH', 'SMPLX']
