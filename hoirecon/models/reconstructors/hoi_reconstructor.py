"""``HOIReconstructor``: image -> body (SMPL-H) + object pose, composed from registered parts.

The model is a composition, each part built from its own registry and swappable by config:

=====================  ===================  ===================================================================
part                   registry             role
=====================  ===================  ===================================================================
``backbone``           BACKBONES            image (B,3,H,W) -> feature (B,C)
``shape_head``         HEADS                feature -> betas (B,10) and crop camera (s, tx, ty) (B,3)
``head``               HEADS                feature, object label -> pose theta (B,22,6) and relation latent
                                            (B,D): a stacked / independent flow or a regression head
``relation_encoder``   RELATION_ENCODERS    relation latent <-> object pose relative to the body (HOI frame)
``body_model``         BODY_MODELS          betas, pose -> vertices and joints (never in checkpoints)
``losses``             LOSSES               one entry per term of StackFLOW's table (method.md §4)
``refiner`` (optional)  REFINERS            test-time fit to keypoints / correspondences (method.md §6)
=====================  ===================  ===================================================================

Frames: the *HOI frame* is the body's root frame: origin at the posed root joint J0, axes rotated by the
global orientation. A point ``X_rel`` of the body posed with identity global orientation, minus J0, is at
``hoi_R @ X_rel + hoi_t`` in the camera (``hoi_R`` = global orientation, ``hoi_t`` = camera-frame root
position). The object is at ``object_R = hoi_R @ rel_R``, ``object_t = hoi_R @ rel_t + hoi_t``.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from hoirecon.registry import BACKBONES, BODY_MODELS, HEADS, LOSSES, MODELS, REFINERS, RELATION_ENCODERS
from hoirecon.structures import HOIDataSample
from hoirecon.models.utils import hoi_frame
from hoirecon.models.utils import (crop_cam_to_translation, matrix_to_rot6d, perspective_project, rot6d_to_matrix,
                                   to_crop_coords)

#: Loss terms the reconstructor knows, in the order of method.md §4. A config may leave any of them out.
LOSS_TERMS = ('betas', 'global_orient', 'body_pose', 'orthogonality', 'orthogonality_samples', 'translation',
              'joints_3d', 'joints_2d', 'relation', 'offsets', 'object_reprojection', 'object_reprojection_samples',
              'nll_pose', 'nll_relation', 'joints_2d_samples')
NUM_BODY_JOINTS = 22


def _stack(samples: List[HOIDataSample], field: str, key: str) -> torch.Tensor:
    """Concatenate ``sample.<field>.<key>`` (each with a leading 1) over the batch."""
    return torch.cat([getattr(getattr(s, field), key) for s in samples], dim=0)


def _meta(samples: List[HOIDataSample], key: str, like: torch.Tensor) -> torch.Tensor:
    """Stack a numeric metainfo entry of every sample as a float tensor on ``like``'s device."""
    return torch.stack([torch.as_tensor(s.metainfo[key], dtype=like.dtype) for s in samples]).to(like.device)


@MODELS.register_module()
class HOIReconstructor(BaseModel):
    """StackFLOW-style monocular HOI reconstructor (and its baselines, by config).

    Args:
        backbone: BACKBONES config; its output width must equal ``feature_dim``.
        shape_head: HEADS config of the camera/shape head (``CameraShapeHead``).
        head: HEADS config of the pose/relation head (``StackedFlowHead``, ``IndependentFlowHead``,
            ``RegressionHead``); ``relation_dim`` is filled from the relation encoder.
        relation_encoder: RELATION_ENCODERS config (``OffsetPCA``, ``DirectRelativePose``).
        body_model: BODY_MODELS config of the predicted body (StackFLOW: male SMPL-H).
        losses: ``{term: LOSSES config}``, terms from :data:`LOSS_TERMS`; a term set to None is left out (how a
            derived config removes a term of its base).
        num_train_samples: flow hypotheses per image for the sample losses (method.md: 2).
        num_test_hypotheses: hypotheses returned by ``predict`` besides the mode (0 = mode only).
        nll_noise: standard deviations of the noise added to the targets of the NLL terms (pose, relation).
        test_relation: ``'predicted'`` (the head's relation) or ``'mean'``: ``predict`` replaces it by the
            encoder's mean training relation (the constant "mean relation" baseline; OffsetPCA only).
        refiner: REFINERS config (e.g. ``StackFLOWRefiner``) applied by ``predict`` to the mode reconstruction, or
            None. It reads the samples' ``observations`` (keypoints, correspondences); the network's output is
            kept in ``init_instances`` so that one test run scores both.
        data_preprocessor: mmengine data preprocessor config (normalisation, batching).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 shape_head: dict,
                 head: dict,
                 relation_encoder: dict,
                 body_model: dict,
                 losses: Dict[str, dict],
                 num_train_samples: int = 2,
                 num_test_hypotheses: int = 0,
                 nll_noise: Tuple[float, float] = (0.001, 0.01),
                 test_relation: str = 'predicted',
                 refiner: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = BACKBONES.build(backbone)
        self.shape_head = HEADS.build(shape_head)
        self.relation_encoder = RELATION_ENCODERS.build(relation_encoder)
        self.head = HEADS.build({**head, 'relation_dim': self.relation_encoder.latent_dim})
        self.body_model = BODY_MODELS.build(body_model)
        unknown = sorted(set(losses) - set(LOSS_TERMS))
        if unknown:
            raise KeyError(f'HOIReconstructor: unknown loss terms {unknown}; known terms: {list(LOSS_TERMS)}')
        self.losses = torch.nn.ModuleDict(
            {name: LOSSES.build(cfg) for name, cfg in losses.items() if cfg is not None})
        self.num_train_samples = num_train_samples
        self.num_test_hypotheses = num_test_hypotheses
        self.nll_noise = tuple(nll_noise)
        if test_relation not in ('predicted', 'mean'):
            raise ValueError(f"HOIReconstructor: test_relation must be 'predicted' or 'mean', got {test_relation!r}")
        self.test_relation = test_relation
        self.refiner = None if refiner is None else REFINERS.build(refiner)

    # ------------------------------------------------------------------ body geometry
    def body_in_hoi_frame(self, betas: torch.Tensor, body_pose: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Body posed with identity global orientation, minus its root joint.

        Args:
            betas: (B, 10).
            body_pose: (B, 21, 3, 3) rotation matrices.

        Returns:
            vertices (B, V, 3) and joints (B, J, 3) in the HOI frame, metres.
        """
        return hoi_frame.body_in_hoi_frame(self.body_model, betas, body_pose)

    def human_anchors(self, vertices_rel: torch.Tensor) -> torch.Tensor:
        """(B, A, 3) relation-encoder anchors from HOI-frame vertices (B, V, 3)."""
        return hoi_frame.human_anchors(vertices_rel, self.relation_encoder.human_anchor_indices)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[HOIDataSample]] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'HOIReconstructor: invalid mode "{mode}"; use "loss", "predict" or "tensor".')

    def _labels(self, data_samples: List[HOIDataSample]) -> torch.Tensor:
        return _stack(data_samples, 'gt_instances', 'object_label').long()

    def _image_outputs(self, inputs: torch.Tensor, data_samples: List[HOIDataSample]) -> dict:
        """Feature (B,C), betas (B,10), crop camera (B,3), camera-frame root translation (B,3) and the crop's
        camera entries (``box_center``, ``box_size``, ``focal``, ``principal``)."""
        feature = self.backbone(inputs)
        shape = self.shape_head(feature)
        camera = self._camera(data_samples, feature)
        translation = crop_cam_to_translation(shape['crop_cam'], camera['box_center'], camera['box_size'],
                                              camera['focal'], camera['principal'])
        return dict(feature=feature, betas=shape['betas'], crop_cam=shape['crop_cam'], translation=translation,
                    camera=camera)

    def _forward(self, inputs: torch.Tensor, data_samples: List[HOIDataSample], num_samples: int = 0) -> dict:
        """Network outputs: :meth:`_image_outputs` and the head's dict."""
        image = self._image_outputs(inputs, data_samples)
        return dict(image, **self.head(image['feature'], self._labels(data_samples), num_samples=num_samples))

    @staticmethod
    def _camera(data_samples: List[HOIDataSample], like: torch.Tensor) -> Dict[str, torch.Tensor]:
        return dict(box_center=_meta(data_samples, 'box_center', like),
                    box_size=_meta(data_samples, 'box_size', like).reshape(-1),
                    focal=_meta(data_samples, 'focal', like),
                    principal=_meta(data_samples, 'principal', like))

    def _to_crop(self, points: torch.Tensor, camera: Dict[str, torch.Tensor], crop_size: int) -> torch.Tensor:
        """Project camera-frame points (B, N, 3) into crop coordinates (B, N, 2) (crop px / size - 0.5)."""
        pixels = perspective_project(points, camera['focal'], camera['principal'])
        return to_crop_coords(pixels, camera['box_center'], camera['box_size'], crop_size)

    def decode_prediction(self, betas: torch.Tensor, pose_6d: torch.Tensor, relation: torch.Tensor,
                          translation: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """From network outputs to camera-space body and object.

        Args:
            betas: (B, 10); pose_6d: (B, 22, 6); relation: (B, D); translation: (B, 3) camera-frame root [m];
            labels: (B,) object categories.

        Returns:
            dict with ``global_orient`` (B,3,3), ``body_pose`` (B,21,3,3), ``joints_rel`` (B,J,3),
            ``vertices_rel`` (B,V,3), ``rel_R`` (B,3,3), ``rel_t`` (B,3), ``object_R`` (B,3,3), ``object_t`` (B,3).
        """
        rotations = rot6d_to_matrix(pose_6d)
        global_orient, body_pose = rotations[:, 0], rotations[:, 1:]
        vertices_rel, joints_rel = self.body_in_hoi_frame(betas, body_pose)
        rel_R, rel_t = self.relation_encoder.decode(relation, labels, self.human_anchors(vertices_rel))
        object_R, object_t = hoi_frame.compose_object_pose(global_orient, translation, rel_R, rel_t)
        return dict(global_orient=global_orient, body_pose=body_pose, joints_rel=joints_rel,
                    vertices_rel=vertices_rel, rel_R=rel_R, rel_t=rel_t, object_R=object_R, object_t=object_t)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples: List[HOIDataSample]) -> Dict[str, torch.Tensor]:
        """StackFLOW's training objective; every key holds one weighted term (method.md §4)."""
        gt = {key: _stack(data_samples, 'gt_instances', key)
              for key in ('betas', 'global_orient', 'body_pose', 'hoi_t', 'rel_R', 'rel_t', 'joints_3d',
                          'joints_2d', 'object_kpts_3d', 'object_kpts_2d', 'object_kpts_weights')}
        labels = self._labels(data_samples)
        crop_size = inputs.shape[-1]
        k = self.num_train_samples
        image = self._image_outputs(inputs, data_samples)
        feature, betas, translation, camera = image['feature'], image['betas'], image['translation'], image['camera']

        # Ground-truth latents: pose in 6D, relation encoded with the GT body's anchors.
        gt_rotations = torch.cat((gt['global_orient'][:, None], gt['body_pose']), dim=1)
        gt_pose_6d = matrix_to_rot6d(gt_rotations)
        gt_vertices_rel, _ = self.body_in_hoi_frame(gt['betas'], gt['body_pose'])
        gt_anchors = self.human_anchors(gt_vertices_rel)
        gt_relation = self.relation_encoder.encode(gt['rel_R'], gt['rel_t'], labels, gt_anchors)

        losses = {}
        # NLL first: it initialises the flows' ActNorm layers on the first batch.
        if self.head.has_likelihood and ('nll_pose' in self.losses or 'nll_relation' in self.losses):
            noisy_pose = gt_pose_6d + self.nll_noise[0] * torch.randn_like(gt_pose_6d)
            noisy_relation = gt_relation + self.nll_noise[1] * torch.randn_like(gt_relation)
            log_prob = self.head.log_prob(feature, labels, noisy_pose, noisy_relation)
            self._add(losses, 'nll_pose', log_prob['pose'])
            self._add(losses, 'nll_relation', log_prob['relation'])

        out = self.head(feature, labels, num_samples=k)
        pred = self.decode_prediction(betas, out['pose_6d'], out['relation'], translation, labels)

        self._add(losses, 'betas', betas, gt['betas'])
        self._add(losses, 'global_orient', out['pose_6d'][:, 0], gt['global_orient'])
        self._add(losses, 'body_pose', out['pose_6d'][:, 1:NUM_BODY_JOINTS], gt['body_pose'])
        self._add(losses, 'orthogonality', out['pose_6d'])
        self._add(losses, 'translation', translation, gt['hoi_t'])
        # root-relative joints in the camera's orientation (the HOI frame rotated, not moved)
        joints_cam_rel = hoi_frame.to_camera(pred['joints_rel'][:, :NUM_BODY_JOINTS], pred['global_orient'],
                                             torch.zeros_like(translation))
        gt_joints_rel = gt['joints_3d'] - gt['joints_3d'][:, :1]
        self._add(losses, 'joints_3d', joints_cam_rel, gt_joints_rel)
        self._add(losses, 'joints_2d', self._to_crop(joints_cam_rel + translation[:, None], camera, crop_size),
                  gt['joints_2d'])
        self._add(losses, 'relation', out['relation'], gt_relation)
        if 'offsets' in self.losses:
            offsets = self.relation_encoder.offsets(out['relation'], labels, gt_anchors)
            if offsets is not None:
                gt_offsets = self.relation_encoder.gt_offsets(gt['rel_R'], gt['rel_t'], labels, gt_anchors)
                self._add(losses, 'offsets', offsets, gt_offsets)
        kpts = self._object_keypoints(pred['object_R'], pred['object_t'], gt['object_kpts_3d'])
        self._add(losses, 'object_reprojection', self._to_crop(kpts, camera, crop_size), gt['object_kpts_2d'],
                  gt['object_kpts_weights'])

        if k > 0:
            self._sample_losses(losses, out, betas, translation, labels, gt, camera, crop_size)
        return losses

    def _sample_losses(self, losses, out, betas, translation, labels, gt, camera, crop_size):
        """Losses on the k flow hypotheses: 6D orthogonality, 2D joints and object reprojection."""
        batch, k = out['pose_6d_samples'].shape[:2]
        self._add(losses, 'orthogonality_samples', out['pose_6d_samples'])
        if not ({'joints_2d_samples', 'object_reprojection_samples'} & set(self.losses)):
            return

        def flat(x):
            return x.reshape(batch * k, *x.shape[2:])

        def repeat(x):
            return x.repeat_interleave(k, dim=0)

        pred = self.decode_prediction(repeat(betas), flat(out['pose_6d_samples']), flat(out['relation_samples']),
                                      repeat(translation), repeat(labels))
        cam_k = {key: repeat(value) for key, value in camera.items()}
        joints = hoi_frame.to_camera(pred['joints_rel'][:, :NUM_BODY_JOINTS], pred['global_orient'],
                                     repeat(translation))
        self._add(losses, 'joints_2d_samples', self._to_crop(joints, cam_k, crop_size),
                  repeat(gt['joints_2d']))
        kpts = self._object_keypoints(pred['object_R'], pred['object_t'], repeat(gt['object_kpts_3d']))
        self._add(losses, 'object_reprojection_samples', self._to_crop(kpts, cam_k, crop_size),
                  repeat(gt['object_kpts_2d']), repeat(gt['object_kpts_weights']))

    @staticmethod
    def _object_keypoints(object_R: torch.Tensor, object_t: torch.Tensor, kpts_obj: torch.Tensor) -> torch.Tensor:
        """Object-frame keypoints (B, K, 3) placed in the camera frame (B, K, 3)."""
        return kpts_obj @ object_R.transpose(1, 2) + object_t[:, None]

    def _add(self, losses: dict, term: str, pred: torch.Tensor, target=None, weight=None) -> None:
        """Evaluate the configured loss ``term`` (if any) into ``losses['loss_<term>']``."""
        if term in self.losses:
            losses[f'loss_{term}'] = self.losses[term](pred, target, weight)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: List[HOIDataSample]) -> List[HOIDataSample]:
        """Mode reconstruction (z = 0), plus ``num_test_hypotheses`` flow samples with their log-likelihoods.

        Fills ``pred_instances`` of each sample with (leading dim 1): ``betas`` (1,10), ``global_orient``
        (1,3,3), ``body_pose`` (1,21,3,3), ``transl`` (1,3) (the body model's translation parameter, so that
        ``body_model(betas, global_orient, body_pose, transl)`` gives the camera-space mesh), ``hoi_R``,
        ``hoi_t`` (1,3) camera-frame root, ``rel_R``, ``rel_t``, ``object_R`` (1,3,3), ``object_t`` (1,3)
        [m, camera frame], ``human_vertices`` (1,V,3) camera frame; and, with hypotheses, ``pose_6d_samples``
        (1,k,22,6), ``relation_samples`` (1,k,D), ``human_vertices_samples`` (1,k,V,3), ``object_R_samples``
        (1,k,3,3), ``object_t_samples`` (1,k,3),
        ``log_prob`` (1,k). With a refiner, ``pred_instances`` holds the refined body and object (and
        ``pnp_used`` (1,); the metainfo ``pnp_status`` says why) and ``init_instances`` the network's mode
        reconstruction; samples with the same metainfo ``person_id`` are refined as one person with several objects.
        """
        k = self.num_test_hypotheses
        out = self._forward(inputs, data_samples, num_samples=k)
        labels = self._labels(data_samples)
        if self.test_relation == 'mean':
            out['relation'] = self.relation_encoder.mean_latent(labels).to(out['relation'])
        pred = self.decode_prediction(out['betas'], out['pose_6d'], out['relation'], out['translation'], labels)
        vertices = self._camera_vertices(pred, out['translation'])
        transl = hoi_frame.body_translation(self.body_model, out['betas'], out['translation'])
        fields = dict(betas=out['betas'], global_orient=pred['global_orient'], body_pose=pred['body_pose'],
                      transl=transl, hoi_R=pred['global_orient'], hoi_t=out['translation'],
                      rel_R=pred['rel_R'], rel_t=pred['rel_t'], object_R=pred['object_R'], object_t=pred['object_t'],
                      human_vertices=vertices)
        if k > 0:
            batch = labels.shape[0]
            samples = self.decode_prediction(out['betas'].repeat_interleave(k, 0),
                                             out['pose_6d_samples'].flatten(0, 1),
                                             out['relation_samples'].flatten(0, 1),
                                             out['translation'].repeat_interleave(k, 0), labels.repeat_interleave(k, 0))
            sample_vertices = self._camera_vertices(samples, out['translation'].repeat_interleave(k, 0))
            fields.update(pose_6d_samples=out['pose_6d_samples'], relation_samples=out['relation_samples'],
                          human_vertices_samples=sample_vertices.reshape(batch, k, *sample_vertices.shape[1:]),
                          object_R_samples=samples['object_R'].reshape(batch, k, 3, 3),
                          object_t_samples=samples['object_t'].reshape(batch, k, 3), log_prob=out['log_prob'])
        if self.refiner is not None:
            init_fields = {key: value for key, value in fields.items() if not key.endswith('_samples')
                           and key != 'log_prob'}
            for i, sample in enumerate(data_samples):
                sample.init_instances = InstanceData(**{key: value[i:i + 1] for key, value in init_fields.items()})
            refined = self.refiner(self, out['feature'], labels,
                                   init=dict(fields, relation=out['relation']),
                                   observations=self._observations(data_samples, out['feature']),
                                   camera=dict({key: out['camera'][key] for key in ('focal', 'principal')},
                                               **self._image_widths(data_samples, out['feature'])),
                                   groups=self._person_groups(data_samples, labels.device))
            fields.update({key: value.to(out['feature']) for key, value in refined.params.items()})
            fields['pnp_used'] = refined.pnp_used
            for sample, status in zip(data_samples, refined.pnp_status):
                sample.set_metainfo(dict(pnp_status=status))
        for i, sample in enumerate(data_samples):
            sample.pred_instances = InstanceData(**{key: value[i:i + 1] for key, value in fields.items()})
        return data_samples

    @staticmethod
    def _camera_vertices(decoded: Dict[str, torch.Tensor], translation: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) camera-frame body vertices of a :meth:`decode_prediction` output and its (B, 3) root."""
        return hoi_frame.to_camera(decoded['vertices_rel'], decoded['global_orient'], translation)

    @staticmethod
    def _image_widths(data_samples: List[HOIDataSample], like: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``image_width`` (B,) pixels of the full images (metainfo ``ori_shape``), or {} when a sample lacks it."""
        shapes = [s.metainfo.get('ori_shape') for s in data_samples]
        if any(shape is None for shape in shapes):
            return {}
        return dict(image_width=like.new_tensor([float(shape[1]) for shape in shapes]))

    @staticmethod
    def _person_groups(data_samples: List[HOIDataSample], device: torch.device) -> Optional[torch.Tensor]:
        """(B,) person index per sample from the metainfo ``person_id`` (several objects of one person, e.g. the
        multi-object demo), or None when the samples do not all carry one (one person per sample)."""
        ids = [s.metainfo.get('person_id') for s in data_samples]
        if any(i is None for i in ids):
            return None
        order = {pid: n for n, pid in enumerate(dict.fromkeys(ids))}
        return torch.tensor([order[i] for i in ids], device=device)

    @staticmethod
    def _observations(data_samples: List[HOIDataSample], like: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Stack the ``observations`` fields that every sample has (the refiner switches the others off)."""
        present = [set(s.observations.keys()) if 'observations' in s else set() for s in data_samples]
        common = set.intersection(*present) if present else set()
        return {key: _stack(data_samples, 'observations', key).to(like) for key in sorted(common)}
