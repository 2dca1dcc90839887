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
``losses``             LOSSES               ``HOILossTable``: StackFLOW's terms (method.md §4) over named tensors
``refiner`` (optional)  REFINERS            test-time fit to keypoints / correspondences (method.md §6), given
                                            :meth:`HOIReconstructor.refinement_problem`
``sequence_refiner``   REFINERS            (optional) smoothing of one camera of one sequence after ``refiner``
                                            (:meth:`HOIReconstructor.refine_sequence`, ``SequenceTestLoop``)
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

from hoirecon.models.refiners.problem import RefinementProblem
from hoirecon.models.utils import hoi_frame
from hoirecon.models.utils import (crop_cam_to_translation, matrix_to_rot6d, perspective_project, rot6d_to_matrix,
                                   to_crop_coords)
from hoirecon.registry import BACKBONES, BODY_MODELS, HEADS, LOSSES, MODELS, REFINERS, RELATION_ENCODERS
from hoirecon.structures import HOIDataSample
from hoirecon.structures.body_skeletons import NUM_BODY_JOINTS

#: ``pred_instances`` fields a sequence refiner starts from (:meth:`HOIReconstructor.refine_sequence`).
SEQUENCE_INIT_KEYS = ('betas', 'global_orient', 'body_pose', 'transl', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t', 'object_R',
                      'object_t')
#: Ground-truth fields of ``gt_instances`` that the training targets are made of.
GT_KEYS = ('betas', 'global_orient', 'body_pose', 'hoi_t', 'rel_R', 'rel_t', 'joints_3d', 'joints_2d',
           'object_kpts_3d', 'object_kpts_2d', 'object_kpts_weights')


def _stack(samples: List[HOIDataSample], field: str, key: str) -> torch.Tensor:
    """Concatenate ``sample.<field>.<key>`` (each with a leading 1) over the batch."""
    return torch.cat([getattr(getattr(s, field), key) for s in samples], dim=0)


def _meta(samples: List[HOIDataSample], key: str, like: torch.Tensor) -> torch.Tensor:
    """Stack a numeric metainfo entry of every sample as a float tensor on ``like``'s device."""
    return torch.stack([torch.as_tensor(s.metainfo[key], dtype=like.dtype) for s in samples]).to(like.device)


def _for_loss(tensor: torch.Tensor) -> torch.Tensor:
    """A view of a prediction that the model goes on using, handed to the loss table.

    The loss table compares after all predictions are made, but a tensor read by several operations gets its
    gradient summed in the reverse order of their creation; the view, made where the model publishes the tensor (in
    the table's order), keeps that order, and hence training, bit-identical to computing each loss on the spot.
    """
    return tensor.view_as(tensor)


@MODELS.register_module()
class HOIReconstructor(BaseModel):
    """StackFLOW-style monocular HOI reconstructor (and its baselines, by config).

    Args:
        backbone: BACKBONES config; its output width must equal ``feature_dim``.
        shape_head: HEADS config of the camera/shape head (``CameraShapeHead``).
        head: HEADS config of the pose/relation head, a :class:`~hoirecon.models.heads.BaseHOIHead`
            (``StackedFlowHead``, ``IndependentFlowHead``, ``RegressionHead``); ``relation_dim`` is filled from the
            relation encoder.
        relation_encoder: RELATION_ENCODERS config (``OffsetPCA``, ``DirectRelativePose``).
        body_model: BODY_MODELS config of the predicted body (StackFLOW: male SMPL-H).
        losses: ``{term: LOSSES config}`` of a :class:`~hoirecon.models.losses.HOILossTable`: the terms of
            :data:`~hoirecon.models.losses.LOSS_TERMS`, or new terms that name their tensors (``pred``, ``target``,
            ``weight``); a term set to None is left out (how a derived config removes a term of its base). A dict
            with a ``type`` is built as the loss module itself.
        num_train_samples: flow hypotheses per image for the sample losses (method.md: 2).
        num_test_hypotheses: hypotheses returned by ``predict`` besides the mode (0 = mode only).
        nll_noise: standard deviations of the noise added to the targets of the NLL terms (pose, relation).
        test_relation: ``'predicted'`` (the head's relation) or ``'mean'``: ``predict`` replaces it by the
            encoder's mean training relation (the constant "mean relation" baseline; OffsetPCA only).
        refiner: REFINERS config (e.g. ``StackFLOWRefiner``) applied by ``predict`` to the mode reconstruction, or
            None. It reads the samples' ``observations`` (keypoints, correspondences) and the model through
            :meth:`refinement_problem`; the network's output is kept in ``init_instances`` so that one test run
            scores both.
        sequence_refiner: REFINERS config of a sequence refiner (``SequenceSmoothingRefiner``), or None. With it,
            ``predict`` keeps each sample's image feature and relation latent (``refinement_feature``,
            ``refinement_relation``) until :meth:`refine_sequence` smooths the frames of one camera of one
            sequence (called by :class:`~hoirecon.engine.loops.SequenceTestLoop`).
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
                 sequence_refiner: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = BACKBONES.build(backbone)
        self.shape_head = HEADS.build(shape_head)
        self.relation_encoder = RELATION_ENCODERS.build(relation_encoder)
        self.head = HEADS.build({**head, 'relation_dim': self.relation_encoder.latent_dim})
        self.body_model = BODY_MODELS.build(body_model)
        self.losses = LOSSES.build(losses if 'type' in losses else dict(type='HOILossTable', terms=losses))
        self.num_train_samples = num_train_samples
        self.num_test_hypotheses = num_test_hypotheses
        self.nll_noise = tuple(nll_noise)
        if test_relation not in ('predicted', 'mean'):
            raise ValueError(f"HOIReconstructor: test_relation must be 'predicted' or 'mean', got {test_relation!r}")
        self.test_relation = test_relation
        self.refiner = None if refiner is None else REFINERS.build(refiner)
        self.sequence_refiner = None if sequence_refiner is None else REFINERS.build(sequence_refiner)

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

    @staticmethod
    def _to_crop(points: torch.Tensor, camera: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Project camera-frame points (B, N, 3) into normalised crop coordinates (B, N, 2)."""
        pixels = perspective_project(points, camera['focal'], camera['principal'])
        return to_crop_coords(pixels, camera['box_center'], camera['box_size'])

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
        """StackFLOW's training objective (method.md §4): ``{'loss_<term>': weighted value}`` of :attr:`losses`.

        The model makes the named tensors of :data:`~hoirecon.models.losses.LOSS_TENSORS` that the configured
        terms read, and the loss table compares them.
        """
        labels = self._labels(data_samples)
        image = self._image_outputs(inputs, data_samples)
        tensors = self._loss_targets(data_samples, labels)
        # NLL first: it initialises the flows' ActNorm layers on the first batch
        tensors.update(self._target_log_prob(image['feature'], labels, tensors))
        out = self.head(image['feature'], labels, num_samples=self.num_train_samples)
        tensors.update(self._mode_predictions(image, out, labels, tensors))
        if self.num_train_samples > 0:
            tensors.update(self._sample_predictions(image, out, labels, tensors))
        return self.losses(tensors)

    def _loss_targets(self, data_samples: List[HOIDataSample], labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The ``gt_*`` tensors of :data:`~hoirecon.models.losses.LOSS_TENSORS`: stacked ground truth and its
        latents (pose in 6D, relation encoded with the GT body's anchors)."""
        gt = {key: _stack(data_samples, 'gt_instances', key) for key in GT_KEYS}
        gt_pose_6d = matrix_to_rot6d(torch.cat((gt['global_orient'][:, None], gt['body_pose']), dim=1))
        vertices_rel, _ = self.body_in_hoi_frame(gt['betas'], gt['body_pose'])
        anchors = self.human_anchors(vertices_rel)
        targets = dict(gt_betas=gt['betas'], gt_global_orient=gt['global_orient'], gt_body_pose=gt['body_pose'],
                       gt_pose_6d=gt_pose_6d, gt_translation=gt['hoi_t'], gt_rel_R=gt['rel_R'], gt_rel_t=gt['rel_t'],
                       gt_relation=self.relation_encoder.encode(gt['rel_R'], gt['rel_t'], labels, anchors),
                       gt_human_anchors=anchors, gt_joints_3d=gt['joints_3d'] - gt['joints_3d'][:, :1],
                       gt_joints_2d=gt['joints_2d'], gt_object_kpts_3d=gt['object_kpts_3d'],
                       gt_object_kpts_2d=gt['object_kpts_2d'], gt_object_kpts_weights=gt['object_kpts_weights'])
        if self.losses.needs('gt_offsets'):
            offsets = self.relation_encoder.gt_offsets(gt['rel_R'], gt['rel_t'], labels, anchors)
            if offsets is not None:
                targets['gt_offsets'] = offsets
        return targets

    def _target_log_prob(self, feature: torch.Tensor, labels: torch.Tensor,
                         targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``log_prob_pose`` / ``log_prob_relation`` (B,) of the noised GT latents, if a term reads them and the
        head has a likelihood (the noise is drawn pose first, then relation)."""
        if not (self.head.has_likelihood and self.losses.needs('log_prob_pose', 'log_prob_relation')):
            return {}
        pose, relation = targets['gt_pose_6d'], targets['gt_relation']
        noisy_pose = pose + self.nll_noise[0] * torch.randn_like(pose)
        noisy_relation = relation + self.nll_noise[1] * torch.randn_like(relation)
        log_prob = self.head.log_prob(feature, labels, noisy_pose, noisy_relation)
        return dict(log_prob_pose=log_prob['pose'], log_prob_relation=log_prob['relation'])

    def _mode_predictions(self, image: dict, out: Dict[str, torch.Tensor], labels: torch.Tensor,
                          targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The mode's prediction tensors of :data:`~hoirecon.models.losses.LOSS_TENSORS` (those the terms read)."""
        betas, translation, camera, pose_6d = image['betas'], image['translation'], image['camera'], out['pose_6d']
        pred = self.decode_prediction(betas, pose_6d, out['relation'], translation, labels)
        tensors = dict(betas=_for_loss(betas), global_orient_6d=pose_6d[:, 0],
                       body_pose_6d=pose_6d[:, 1:NUM_BODY_JOINTS], pose_6d=_for_loss(pose_6d),
                       translation=_for_loss(translation),
                       **{key: _for_loss(pred[key]) for key in ('rel_R', 'rel_t', 'object_R', 'object_t')})
        # root-relative joints in the camera's orientation (the HOI frame rotated, not moved)
        joints = hoi_frame.to_camera(pred['joints_rel'][:, :NUM_BODY_JOINTS], pred['global_orient'],
                                     torch.zeros_like(translation))
        tensors['joints_3d'] = _for_loss(joints)
        if self.losses.needs('joints_2d'):
            tensors['joints_2d'] = self._to_crop(joints + translation[:, None], camera)
        tensors['relation'] = _for_loss(out['relation'])
        if self.losses.needs('offsets'):
            offsets = self.relation_encoder.offsets(out['relation'], labels, targets['gt_human_anchors'])
            if offsets is not None:
                tensors['offsets'] = offsets
        if self.losses.needs('object_kpts_2d'):
            kpts = self._object_keypoints(pred['object_R'], pred['object_t'], targets['gt_object_kpts_3d'])
            tensors['object_kpts_2d'] = self._to_crop(kpts, camera)
        return tensors

    def _sample_predictions(self, image: dict, out: Dict[str, torch.Tensor], labels: torch.Tensor,
                            targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The hypotheses' tensors of :data:`~hoirecon.models.losses.LOSS_TENSORS`, flattened to B * k rows (image
        ``b``'s hypothesis ``i`` in row ``b * k + i``); decoded only if a term reads them."""
        tensors = dict(pose_6d_samples=_for_loss(out['pose_6d_samples']),
                       relation_samples=_for_loss(out['relation_samples']))
        if not self.losses.needs('joints_2d_samples', 'object_kpts_2d_samples'):
            return tensors
        batch, k = out['pose_6d_samples'].shape[:2]

        def flat(x):
            return x.reshape(batch * k, *x.shape[2:])

        def repeat(x):
            return x.repeat_interleave(k, dim=0)

        betas, translation = image['betas'], image['translation']
        pred = self.decode_prediction(repeat(betas), flat(out['pose_6d_samples']), flat(out['relation_samples']),
                                      repeat(translation), repeat(labels))
        camera = {key: repeat(value) for key, value in image['camera'].items()}
        joints = hoi_frame.to_camera(pred['joints_rel'][:, :NUM_BODY_JOINTS], pred['global_orient'],
                                     repeat(translation))
        tensors.update(joints_2d_samples=self._to_crop(joints, camera),
                       gt_joints_2d_samples=repeat(targets['gt_joints_2d']))
        kpts = self._object_keypoints(pred['object_R'], pred['object_t'], repeat(targets['gt_object_kpts_3d']))
        tensors.update(object_kpts_2d_samples=self._to_crop(kpts, camera),
                       gt_object_kpts_2d_samples=repeat(targets['gt_object_kpts_2d']),
                       gt_object_kpts_weights_samples=repeat(targets['gt_object_kpts_weights']))
        return tensors

    @staticmethod
    def _object_keypoints(object_R: torch.Tensor, object_t: torch.Tensor, kpts_obj: torch.Tensor) -> torch.Tensor:
        """Object-frame keypoints (B, K, 3) placed in the camera frame (B, K, 3)."""
        return kpts_obj @ object_R.transpose(1, 2) + object_t[:, None]

    # ------------------------------------------------------------------ refinement
    def refinement_problem(self, feature: torch.Tensor, labels: torch.Tensor) -> RefinementProblem:
        """What a refiner needs of this model for B instances: the one place where it is read off the model.

        Args:
            feature: (B, C) image features of the instances' crops (detached here: the refiner fits the
                reconstruction, not the network).
            labels: (B,) long object categories.

        Returns:
            :class:`~hoirecon.models.refiners.problem.RefinementProblem` with the body model, the head's
            image-conditioned log-density (heads with a likelihood), the relation encoder's ``encode`` /
            offsets / human anchor indices, in the features' dtype.
        """
        feature = feature.detach()
        encoder = self.relation_encoder
        log_prob = self.head.image_conditioned_log_prob(feature, labels) if self.head.has_likelihood else None
        return RefinementProblem(body_model=self.body_model, labels=labels,
                                 human_anchor_indices=encoder.human_anchor_indices, encode_relation=encoder.encode,
                                 log_prob=log_prob, offsets=encoder.offsets if encoder.has_offsets else None,
                                 gt_offsets=encoder.gt_offsets if encoder.has_offsets else None, dtype=feature.dtype,
                                 head_name=type(self.head).__name__, relation_encoder_name=type(encoder).__name__)

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
            refined = self.refiner(self.refinement_problem(out['feature'], labels),
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
            if self.sequence_refiner is not None:  # what refine_sequence needs of the network, per frame
                sample.refinement_feature = out['feature'][i].detach()
                sample.refinement_relation = out['relation'][i].detach()
        return data_samples

    @torch.no_grad()
    def refine_sequence(self, data_samples: List[HOIDataSample]) -> List[HOIDataSample]:
        """Smooth the frames of one camera of one sequence with ``sequence_refiner``, after :meth:`predict`.

        Args:
            data_samples: the T frames, each from :meth:`predict` of this model (with ``refinement_feature`` and
                ``refinement_relation``); the time order is the metainfo ``frame_index`` when every sample has one,
                else the list order.

        Returns:
            The same samples: ``pred_instances`` holds the smoothed body and object, ``frame_instances`` what
            ``predict`` gave (the per-frame refinement when the model has a ``refiner``), ``init_instances`` stays
            the network's output; ``refinement_feature`` / ``refinement_relation`` are removed.
        """
        if self.sequence_refiner is None:
            raise RuntimeError('HOIReconstructor.refine_sequence: the model has no sequence_refiner (set '
                               "model.sequence_refiner, e.g. the config's `sequence_refiner` with tools/test.py "
                               '--refine).')
        if not data_samples:
            return data_samples
        missing = [s.metainfo.get('img_id', i) for i, s in enumerate(data_samples) if 'refinement_feature' not in s]
        if missing:
            raise KeyError(f'HOIReconstructor.refine_sequence: samples {missing[:3]} have no refinement_feature; '
                           'they must come from predict() of a model with a sequence_refiner.')
        feature = torch.stack([s.refinement_feature for s in data_samples])
        labels = self._labels(data_samples).to(feature.device)
        pred = [s.pred_instances for s in data_samples]
        init = {key: torch.cat([p[key] for p in pred]).to(feature) for key in SEQUENCE_INIT_KEYS}
        init['relation'] = torch.stack([s.refinement_relation for s in data_samples]).to(feature)
        camera = dict({key: _meta(data_samples, key, feature) for key in ('focal', 'principal')},
                      **self._image_widths(data_samples, feature))
        order = [s.metainfo.get('frame_index') for s in data_samples]
        frame_order = None if any(i is None for i in order) else torch.as_tensor(order, dtype=torch.long)
        result = self.sequence_refiner(
            self.refinement_problem(feature, labels), init=init,
            observations=self._observations(data_samples, feature), camera=camera, frame_order=frame_order,
            window_problem=lambda index: self.refinement_problem(feature[index], labels[index]))
        for i, sample in enumerate(data_samples):
            previous = sample.pred_instances
            fields = {key: previous[key] for key in previous.keys()}
            fields.update({key: value[i:i + 1].to(feature) for key, value in result.params.items()})
            sample.frame_instances = previous
            sample.pred_instances = InstanceData(**fields)
            del sample.refinement_feature
            del sample.refinement_relation
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
