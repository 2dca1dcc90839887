"""``CHOREReconstructor``: a trained :class:`~.field_net.CHOREFieldNet` plus CHORE's test-time fitting, so that
``tools/test.py`` scores it like every other reconstructor (docs/chore.md, "Test-time fitting").

Per batch (everything batched over the images, no gradient into the network):

=====  ==============================================================================================================
step   what
=====  ==============================================================================================================
1      the fields on a ``grid_resolution``\\ :sup:`3` grid of each crop's frustum (crop-pixel cells x depths
       ``depth_ref + depth_margin``), chunked; the grid points predicted within ``near`` of the human / object surface
       are the evidence of the next two steps
2      body start. With a body estimate (``fitting['body_start']`` 'auto' or 'estimate'; BEHAVE's FrankMocap
       ``k*.mocap.json``, loaded by :class:`~hoirecon.datasets.transforms.LoadBodyEstimate`), CHORE's start: the
       estimate's global orientation, pose and shape, moved (:func:`place_posed_body`) so that its anchor parts'
       centroids (torso, head, thighs) land on those of the near-human grid points labelled with those parts.
       Without one (``body_start='fields'``, or 'auto' on a sample with no file), :func:`initial_body`: the mean
       shape in its rest pose, turned and moved onto the same centroids (weighted Kabsch); with fewer than three
       anchor parts seen, facing the camera at the near-human centroid. Either start is then slid along the camera
       ray through its root joint to the fixed depth (``fixed_depth``)
3      object start (:func:`~.fitting.votes_to_pose`): the mean centre vote and mean 6D rotation of the near-object
       grid points
4      :func:`~.fitting.fit_body` (human distance + part labels at the posed vertices + pose regulariser + the root
       joint held at ``depth_ref`` with ``fixed_depth``): pose and translation for ``body_steps``, then with the
       scale free too for ``scale_steps``; :func:`~.fitting.fit_object`
       (object distance at the template samples, posed and sized by that scale, + pulls to the votes; with
       ``w_contact`` CHORE's contacts, with ``w_mask`` its object mask term, :class:`~.mask_term.ObjectMaskTerm`)
5      with ``joint_steps`` > 0, CHORE's joint stage (:func:`~.fitting.fit_joint`): the body (scale kept) and the
       object in one loop, both fits' terms plus the contacts in both directions and, with ``w_collision``,
       interpenetration
=====  ==============================================================================================================

**Scale.** The fields live in a scene scaled so that the person's root is at ``depth_ref`` (CHORE's fixed depth,
``CHOREQueryTargets(fixed_depth=...)``): a body of the mean shape fits it at a scale ``s`` (fitted), and the object
template is fitted at the same scale. The output undoes it by assuming the person has the start's size (the mean
shape, or the estimate's betas): the body as fitted, unscaled, and the object's translation divided by ``s``.
``scene_scale`` records ``s`` (1 in ``init_instances``, whose object is the raw votes). ``fit_scale=False`` fits
fields of metric scenes.

``pred_instances`` per image: ``human_vertices`` (1, V, 3), ``betas`` (1, 10), ``global_orient`` (1, 3, 3),
``body_pose`` (1, J, 3, 3), ``transl`` (1, 3) of the configured body model; ``object_R`` (1, 3, 3), ``object_t``
(1, 3) of the image's template (camera frame, metres), ``scene_scale`` (1,); ``init_instances`` the same before
step 4. The training path
(``mode='loss'``) and the field prediction on packed query points are :class:`CHOREFieldNet`'s, and the checkpoint
is the field network's (the body model and the templates are not parameters).
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.structures import InstanceData

from hoirecon.registry import BODY_MODELS, MODELS
from hoirecon.structures import HOIDataSample
from .field_net import CHOREFieldNet
from .fitting import contact_vertices, fit_body, fit_joint, fit_object, network_field_fn, votes_to_pose
from .geometry import chunked_fields, frustum_grid, group_parts, sample_surface
from .mask_term import ObjectMaskTerm

#: Parts (of the 14) whose rest-pose centroids anchor the body start: torso, head, left / right thigh.
ANCHOR_PARTS_14 = (0, 1, 8, 9)
#: The same parts among the 22 skeleton joints: pelvis, spine1-3 (torso), neck, head, left / right hip.
ANCHOR_PARTS_22 = (0, 3, 6, 9, 12, 15, 1, 2)
#: Default fitting settings (``CHOREReconstructor(fitting=...)`` overrides any of them).
DEFAULT_FITTING = dict(
    grid_resolution=32,  # grid cells per side of the crop and depth steps
    depth_margin=(-1.0, 1.0),  # grid depths: depth_ref + margin (metres; the training frustum's range)
    near=0.03,  # grid points predicted within this of a surface are its evidence (metres)
    body_start='auto',  # 'auto': a sample's body estimate when it has one, else 'fields'; 'estimate'; 'fields'
    fit_scale=True,  # the fields' scene is scaled to a fixed person depth: fit the body's scale in it (module doc)
    fixed_depth=True,  # ... and its root joint sits at depth_ref: the body start and fit keep it there
    w_root=10.0,  # weight of the squared root-depth difference (m^2)
    min_points=20,  # fewer near points: the lowest-distance ones are used
    chunk=8192,  # grid points per network call and image
    body_steps=100, body_lr=0.02, vertex_stride=8, w_parts=0.02,
    w_pose=0.001,  # the pull of each joint back to its start: a rest-pose start (from the fields)
    # ... a start from a body estimate (CHORE's FrankMocap start): picked among 0.001-10 on 48 training images
    # (docs/chore.md, "Body start")
    w_pose_estimate=0.1,
    w_keypoints=0.0,  # CHORE's 2D term: projected BODY_25 joints against the detected keypoints (crop-side units)
    scale_steps=50,  # steps of a second body fit with the scale free (fit_scale)
    object_steps=100, object_lr=0.01, object_points=500, w_centre=0.1, w_rotation=0.01,
    w_contact=0.0,  # CHORE's contact term: fitted body vertices predicted within contact_threshold of the object
    contact_threshold=0.03,  # pull the object's surface to them (metres, in the fields' scene)
    # CHORE's object mask term (ObjectMaskTerm): the template's soft silhouette against the object's visible mask
    # (person_mask_path / object_mask_path in the metainfo), in a mask_size square around the mask's box grown by
    # mask_padding, the template decimated to mask_faces, edges of sharpness mask_sigma (pixels^2), in the last
    # mask_steps steps of the object fit (None: all)
    w_mask=0.0, mask_size=64, mask_padding=0.15, mask_faces=300, mask_sigma=1.0, mask_steps=None,
    # CHORE's joint stage (fit_joint) after the separate fits: body and object in one loop, the body's and the
    # object's terms above plus the contacts both ways (w_joint_contact: body vertices near the object onto it;
    # w_joint_contact_object: template points near the body onto it) and interpenetration (w_collision: the body's
    # vertices inside the template, by their winding number, pulled out to its surface); 0 steps: off
    joint_steps=0, joint_lr=0.005, w_joint_contact=0.3, w_joint_contact_object=0.3, w_collision=0.0,
    # CHORE's learnt pose prior in every body fit: a GMMPosePrior file (.npz of tools/misc/fit_pose_prior.py, or
    # SMPLify's gmm_08.pkl) and its weight; None / 0: off
    pose_prior=None, w_pose_prior=0.0,
    seed=0)


def umeyama(source: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Weighted similarity ``target ~ c R source + T`` of (K, 3) point pairs (Umeyama, no reflection):
    ``R`` (3, 3), ``c`` () and ``T`` (3,)."""
    w = weight / weight.sum()
    s_bar, t_bar = (w[:, None] * source).sum(0), (w[:, None] * target).sum(0)
    s, t = source - s_bar, target - t_bar
    u, sv, vt = torch.linalg.svd((w[:, None] * t).T @ s)
    d = torch.sign(torch.linalg.det(u @ vt))
    signs = torch.stack([torch.ones_like(d), torch.ones_like(d), d])
    R = u @ torch.diag(signs) @ vt
    c = (sv * signs).sum() / (w * (s**2).sum(-1)).sum()
    return dict(R=R, c=c, T=t_bar - c * R @ s_bar)


def kabsch(source: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(3, 3) rotation ``R`` minimising ``sum w |R (s - s_bar) - (t - t_bar)|^2`` over (K, 3) point pairs."""
    return umeyama(source, target, weight)['R']


def initial_body(points: torch.Tensor, part_ids: torch.Tensor, rest_vertices: torch.Tensor,
                 vertex_parts: torch.Tensor, anchors: Sequence[int], min_per_part: int = 5) -> Dict[str, torch.Tensor]:
    """Rotation and translation of the rest body, from near-human points and their parts (a rigid fit: the scale
    from the rest pose's part centroids came out 10-15 % low on posed bodies, so the scale is left to the fit).

    Args:
        points: (K, 3) camera-frame points predicted on the human surface. part_ids: (K,) their predicted parts.
        rest_vertices: (V, 3) the rest-pose body at the origin. vertex_parts: (V,) its parts.
        anchors: the parts matched (each needs ``min_per_part`` points).

    Returns:
        ``R`` (3, 3), ``t`` (3,) with ``R v + t`` the rest body placed on the points; ``anchors`` how many parts
        matched.
    """
    src, dst, cnt = [], [], []
    for part in anchors:
        here = part_ids == part
        if int(here.sum()) >= min_per_part and bool((vertex_parts == part).any()):
            src.append(rest_vertices[vertex_parts == part].mean(0))
            dst.append(points[here].mean(0))
            cnt.append(here.sum().to(points.dtype))
    if len(src) >= 3:
        src_t, dst_t, w = torch.stack(src), torch.stack(dst), torch.stack(cnt)
        R = kabsch(src_t, dst_t, w)
        wn = w / w.sum()
        t = (wn[:, None] * dst_t).sum(0) - R @ (wn[:, None] * src_t).sum(0)
    else:  # upright (camera y points down) and facing the camera, at the centroid of the evidence
        R = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=points.dtype, device=points.device))
        t = points.mean(0) - R @ rest_vertices.mean(0)
    return dict(R=R, t=t, anchors=torch.tensor(len(src)))


def place_posed_body(points: torch.Tensor, part_ids: torch.Tensor, posed_vertices: torch.Tensor,
                     vertex_parts: torch.Tensor, anchors: Sequence[int], min_per_part: int = 5) -> torch.Tensor:
    """(3,) translation putting a posed body (orientation and pose known, e.g. a body estimate's) on near-human points:
    the point-count-weighted mean offset between the centroids of the anchor parts' points and of the same parts of
    the body; with no anchor part seen, between the centroids of all points and of the body.

    Args:
        points: (K, 3) points predicted on the human surface. part_ids: (K,) their predicted parts.
        posed_vertices: (V, 3) the posed body at translation 0. vertex_parts: (V,) its parts.
    """
    offsets, counts = [], []
    for part in anchors:
        here = part_ids == part
        if int(here.sum()) >= min_per_part and bool((vertex_parts == part).any()):
            offsets.append(points[here].mean(0) - posed_vertices[vertex_parts == part].mean(0))
            counts.append(here.sum().to(points.dtype))
    if not offsets:
        return points.mean(0) - posed_vertices.mean(0)
    w = torch.stack(counts)
    return (w[:, None] * torch.stack(offsets)).sum(0) / w.sum()


@MODELS.register_module()
class CHOREReconstructor(CHOREFieldNet):
    """:class:`CHOREFieldNet` whose ``predict`` on images without query points fits a body and the object template
    to the fields (module docstring).

    Args:
        body_model: ``BODY_MODELS`` config of the fitted body (the training body: the surrogate SMPL-H male on the
            synthetic world).
        object_library: :class:`~hoirecon.objects.ObjectLibrary` keyword arguments (the templates fitted).
        fitting: overrides of :data:`DEFAULT_FITTING`.
        *args, **kwargs: :class:`CHOREFieldNet`'s.
    """

    #: Its prediction is always an optimisation (tools/benchmark.py marks its row "post-optimisation ✓", as the
    #: paper's tables mark CHORE's).
    test_time_optimisation = True

    def __init__(self, *args, body_model: Optional[dict] = None, object_library: Optional[dict] = None,
                 fitting: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        unknown = set(fitting or {}) - set(DEFAULT_FITTING)
        if unknown:
            raise ValueError(f'CHOREReconstructor: unknown fitting settings {sorted(unknown)}; '
                             f'known: {sorted(DEFAULT_FITTING)}.')
        if (fitting or {}).get('body_start', 'auto') not in ('auto', 'estimate', 'fields'):
            raise ValueError("CHOREReconstructor: fitting['body_start'] must be 'auto', 'estimate' or 'fields', got "
                             f"{fitting['body_start']!r}.")
        self.fitting = dict(DEFAULT_FITTING, **(fitting or {}))
        self.body_model_cfg = body_model or dict(type='SMPLH', model_path='surrogate', gender='male')
        self.object_library_cfg = object_library or dict(dataset='behave')
        self._body_model = None  # built on first use, kept out of the state dict
        self._library = None
        self._template_points: Dict[str, torch.Tensor] = {}
        self._render_meshes: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}  # the mask term's decimated templates
        self._collision_meshes: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}  # the joint stage's
        self._pose_prior = None
        self._fields_starts, self._warned_fields_starts = 0, False  # images started without an estimate ('auto')

    # ---------------------------------------------------------------- assets
    def body_model(self, device) -> torch.nn.Module:
        if self._body_model is None:
            model = BODY_MODELS.build(self.body_model_cfg).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self.__dict__['_body_model'] = model  # not a submodule: no keys in the checkpoint
        return self._body_model.to(device)

    def template(self, name: str):
        """The :class:`~hoirecon.objects.ObjectLibrary` template ``name`` (``vertices``, ``faces`` in its frame)."""
        if self._library is None:
            from hoirecon.objects import ObjectLibrary
            self._library = ObjectLibrary(**self.object_library_cfg)
        return self._library[name]

    def render_mesh(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(vertices, faces)`` of the template ``name`` as the mask term renders it: decimated to
        ``fitting['mask_faces']`` faces (:func:`~hoirecon.models.baselines.phosa.cluster_decimate`; None: as it is),
        once per template."""
        if name not in self._render_meshes:
            from hoirecon.models.baselines.phosa import cluster_decimate
            template, max_faces = self.template(name), self.fitting['mask_faces']
            self._render_meshes[name] = (template.vertices, template.faces) if max_faces is None else \
                cluster_decimate(template.vertices, template.faces, int(max_faces))
        return self._render_meshes[name]

    def template_points(self, name: str, device) -> torch.Tensor:
        """(M, 3) object-frame surface samples of the template ``name`` (area-uniform, fixed seed)."""
        if name not in self._template_points:
            template = self.template(name)
            points, _ = sample_surface(template.vertices, template.faces, int(self.fitting['object_points']),
                                       np.random.default_rng(self.fitting['seed']))
            self._template_points[name] = torch.as_tensor(points, dtype=torch.float32)
        return self._template_points[name].to(device)

    def pose_prior(self, joints: int):
        """The :class:`~hoirecon.models.body_models.GMMPosePrior` of ``fitting['pose_prior']`` over ``joints`` body
        joints (read once), or None without a file or weight."""
        path = self.fitting['pose_prior']
        if not path or float(self.fitting['w_pose_prior']) <= 0:
            return None
        if self._pose_prior is None:
            from hoirecon.models.body_models import GMMPosePrior
            self._pose_prior = GMMPosePrior.from_file(str(path)).for_joints(joints)
        return self._pose_prior

    def collision_mesh(self, name: str, device) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(vertices (V, 3), faces (F, 3))`` of the template ``name`` as tensors (the joint stage's inside test)."""
        if name not in self._collision_meshes:
            template = self.template(name)
            self._collision_meshes[name] = (torch.as_tensor(template.vertices, dtype=torch.float32),
                                            torch.as_tensor(template.faces, dtype=torch.long))
        return tuple(x.to(device) for x in self._collision_meshes[name])

    # ---------------------------------------------------------------- forward
    def forward(self, inputs, data_samples: Optional[List[HOIDataSample]] = None, mode: str = 'tensor'):
        has_points = data_samples is not None and all('query_points' in s.gt_instances for s in data_samples)
        if mode == 'predict' and not has_points:
            return self.reconstruct(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def _near(self, udf: torch.Tensor) -> torch.Tensor:
        """(N,) bool: within ``near``, or the ``min_points`` lowest distances when fewer are."""
        near = udf < self.fitting['near']
        if int(near.sum()) < self.fitting['min_points']:
            near = torch.zeros_like(near)
            near[udf.topk(min(int(self.fitting['min_points']), len(udf)), largest=False).indices] = True
        return near

    def _body_estimates(self, samples: List[HOIDataSample], joints: int, device) -> List[Optional[dict]]:
        """Per sample the body estimate the fit starts from (``observations.estimate_*`` of
        :class:`~hoirecon.datasets.transforms.LoadBodyEstimate`), or None, by ``fitting['body_start']``."""
        mode = self.fitting['body_start']
        out = []
        for sample in samples:
            obs = sample.observations if 'observations' in sample else None
            has = obs is not None and 'estimate_body_pose' in obs
            if mode == 'estimate' and not has:
                raise ValueError(
                    f"CHOREReconstructor(fitting=dict(body_start='estimate')): {sample.metainfo.get('img_path')} has "
                    'no body estimate. Add LoadBodyEstimate to the test pipeline (configs/baselines/'
                    'chore_synthetic.py does) and write the k*.mocap.json files (tools/misc/export_body_estimates.py), '
                    "or set body_start='auto' / 'fields'.")
            if mode == 'fields' or not has:
                self._fields_starts += int(mode == 'auto')
                out.append(None)
                continue
            pose = obs.estimate_body_pose[0].to(device=device, dtype=torch.float32)
            if pose.shape[0] != joints:
                raise ValueError(f"CHOREReconstructor: the body estimate of {sample.metainfo.get('img_path')} has "
                                 f'{pose.shape[0]} body joints, the body model {joints}; set '
                                 f'LoadBodyEstimate(num_body_joints={joints}).')
            out.append(dict(global_orient=obs.estimate_global_orient[0].to(pose), body_pose=pose,
                            betas=obs.estimate_betas[0].to(pose)))
        if self._fields_starts and not self._warned_fields_starts:
            self._warned_fields_starts = True
            print_log(f'CHOREReconstructor: {self._fields_starts} image(s) so far have no body estimate '
                      '(k*.mocap.json, loaded by LoadBodyEstimate): their bodies start from the fields, not from an '
                      "estimate as CHORE's do. Write them with tools/misc/export_body_estimates.py, or set "
                      "fitting=dict(body_start='estimate') to require them.", logger='current', level=logging.WARNING)
        return out

    @staticmethod
    def _keypoints(samples: List[HOIDataSample], device) -> torch.Tensor:
        """(B, 25, 3) OpenPose keypoints (``observations.person_kpts``; zero confidence where a sample has none)."""
        rows = []
        for sample in samples:
            obs = sample.observations if 'observations' in sample else None
            has = obs is not None and 'person_kpts' in obs
            rows.append(obs.person_kpts[0].float() if has else torch.zeros(25, 3))
        return torch.stack(rows).to(device)

    def _mask_term(self, samples: List[HOIDataSample], names: List[str], meta: Dict[str, torch.Tensor]
                   ) -> ObjectMaskTerm:
        """CHORE's object mask term of a batch: each sample's person and visible object masks (``observations``, or
        the files of its metainfo ``person_mask_path`` / ``object_mask_path``) against its template's silhouette."""
        from hoirecon.models.baselines.phosa_reconstructor import sample_intrinsics, sample_masks
        cfg = self.fitting
        person, objects = zip(*[sample_masks(s) for s in samples])
        K = torch.stack([sample_intrinsics(s) for s in samples]).to(meta['focal'])
        return ObjectMaskTerm.from_masks([self.render_mesh(n) for n in names], names, person, objects, K,
                                         size=int(cfg['mask_size']), padding=float(cfg['mask_padding']),
                                         sigma=float(cfg['mask_sigma']))

    def reconstruct(self, inputs, samples: List[HOIDataSample], field_fn=None) -> List[HOIDataSample]:
        """Fields -> body and object start -> fits (module docstring); fills ``pred_instances`` and
        ``init_instances``. ``field_fn`` replaces the network's fields (a function of (B, N, 3) points, as
        :func:`~.fitting.network_field_fn` returns; the tests pass exact fields of known meshes)."""
        cfg = self.fitting
        inputs = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
        device = next(self.parameters()).device
        inputs = inputs.to(device)
        if field_fn is None:
            with torch.no_grad():
                field_fn = network_field_fn(self, inputs, samples)
        meta = self.crop_meta(samples, device)
        lo, hi = cfg['depth_margin']
        grid = frustum_grid(meta['focal'], meta['principal'], meta['box_center'], meta['box_size'],
                            int(cfg['grid_resolution']), (self.depth_ref + lo, self.depth_ref + hi))
        with torch.no_grad():
            fields = chunked_fields(field_fn, grid, int(cfg['chunk']))
        udf = fields['udf'].clamp(min=0, max=self.clamp)
        body = self.body_model(device)
        batch = len(samples)
        dtype = torch.float32
        eye = torch.eye(3, dtype=dtype, device=device)
        joints = dict(body.POSE_INPUTS)['body_pose']  # 23 SMPL, 21 SMPL-H / SMPL-X
        with torch.no_grad():
            rest = body(betas=torch.zeros(1, 10, device=device),
                        global_orient=eye[None], body_pose=eye.expand(1, joints, 3, 3)).vertices[0]
        vertex_parts = torch.as_tensor(group_parts(body.part_labels, self.num_parts), device=device)
        anchors = ANCHOR_PARTS_14 if self.num_parts == 14 else ANCHOR_PARTS_22
        estimates = self._body_estimates(samples, joints, device)
        betas = torch.zeros(batch, 10, dtype=dtype, device=device)
        go0 = eye.expand(batch, 3, 3).clone()
        body_pose0 = eye.expand(batch, joints, 3, 3).clone()
        for i, estimate in enumerate(estimates):
            if estimate is not None:
                betas[i], go0[i], body_pose0[i] = estimate['betas'], estimate['global_orient'], estimate['body_pose']
        with torch.no_grad():
            # the body model turns about its root joint: body(global_orient=R, transl=x) = R (v - root) + root + x;
            # posed0: each start's posed body with transl 0 (the estimate's pose and shape, or the rest body)
            root = body(betas=betas, global_orient=eye.expand(batch, 3, 3), body_pose=body_pose0).joints[:, 0]
            posed0 = body(betas=betas, global_orient=go0, body_pose=body_pose0).vertices
        transl0_body = torch.zeros(batch, 3, dtype=dtype, device=device)
        centre0, R0 = [], []
        for i in range(batch):
            near_h = self._near(udf[i, :, 0])
            points, part_ids = grid[i][near_h], fields['parts'][i][near_h].argmax(-1)
            if estimates[i] is not None:  # CHORE: the estimate's pose and shape, placed on the fields
                transl0_body[i] = place_posed_body(points, part_ids, posed0[i], vertex_parts, anchors)
            else:  # the rest body turned and moved onto the fields' parts
                start = initial_body(points, part_ids, rest, vertex_parts, anchors)
                go0[i] = start['R']
                transl0_body[i] = start['t'] + start['R'] @ root[i] - root[i]  # R v + t as body(..., transl=x)
            near_o = self._near(udf[i, :, 1])
            votes = votes_to_pose({k: v[i:i + 1, near_o] for k, v in fields.items()}, grid[i:i + 1, near_o],
                                  radius=float('inf'))
            centre0.append(votes['centre'][0])
            R0.append(votes['R'][0])
        if cfg['fixed_depth']:  # slide the start along the camera ray through its root to the fixed depth
            root0 = transl0_body + root
            transl0_body = transl0_body + root0 * (self.depth_ref / root0[:, 2:3].clamp(min=0.1)) - root0
        with torch.no_grad():
            init_vertices = body(betas=betas, global_orient=go0, body_pose=body_pose0,
                                 transl=transl0_body).vertices
        subset = torch.arange(0, rest.shape[0], int(cfg['vertex_stride']), device=device)
        names = [str(s.metainfo['object_name']) for s in samples]
        # read before the fits, so that a sample without masks fails at once
        mask_term = self._mask_term(samples, names, meta) if float(cfg['w_mask']) > 0 else None
        with torch.enable_grad():
            w_pose = torch.tensor([float(cfg['w_pose' if e is None else 'w_pose_estimate']) for e in estimates],
                                  dtype=dtype, device=device)
            keypoints = self._keypoints(samples, device) if float(cfg['w_keypoints']) > 0 else None
            body_terms = dict(w_parts=float(cfg['w_parts']), w_pose=w_pose, keypoints=keypoints, camera=meta,
                              w_keypoints=float(cfg['w_keypoints']), w_root=float(cfg['w_root']),
                              root_depth=self.depth_ref if cfg['fixed_depth'] else None,
                              pose_prior=self.pose_prior(joints), w_pose_prior=float(cfg['w_pose_prior']))
            common = dict(lr=float(cfg['body_lr']), vertex_subset=subset, **body_terms)
            fitted_body = fit_body(field_fn, body, betas, go0, body_pose0, transl0_body, vertex_parts,
                                   steps=int(cfg['body_steps']), **common)
            if cfg['fit_scale'] and int(cfg['scale_steps']) > 0:  # then the scale too, from the posed body
                fitted_body = fit_body(field_fn, body, betas, fitted_body['global_orient'], fitted_body['body_pose'],
                                       fitted_body['transl'], vertex_parts, steps=int(cfg['scale_steps']),
                                       scale=torch.ones(batch, dtype=dtype, device=device), **common)
            template = torch.stack([self.template_points(n, device) for n in names])
            centre0, R0 = torch.stack(centre0), torch.stack(R0)
            contacts = dict(points=None, weight=None)
            if float(cfg['w_contact']) > 0:  # the fitted body's vertices, in the fields' scene
                scene_body = (fitted_body['vertices'][:, subset] * fitted_body['scale'][:, None, None])
                contacts = contact_vertices(field_fn, scene_body, float(cfg['contact_threshold']))
            fitted_object = fit_object(field_fn, template, R0, centre0, steps=int(cfg['object_steps']),
                                       lr=float(cfg['object_lr']), vote_centre=centre0, vote_R=R0,
                                       w_centre=float(cfg['w_centre']), w_rotation=float(cfg['w_rotation']),
                                       scale=fitted_body['scale'], contact_points=contacts['points'],
                                       contact_weight=contacts['weight'], w_contact=float(cfg['w_contact']),
                                       mask_term=mask_term, w_mask=float(cfg['w_mask']),
                                       mask_steps=cfg['mask_steps'])
            if int(cfg['joint_steps']) > 0:  # CHORE's joint stage: body and object together
                object_terms = dict(vote_centre=centre0, vote_R=R0, w_centre=float(cfg['w_centre']),
                                    w_rotation=float(cfg['w_rotation']), mask_term=mask_term,
                                    w_mask=float(cfg['w_mask']))
                meshes = [self.collision_mesh(n, device) for n in names] if float(cfg['w_collision']) > 0 else None
                joint = fit_joint(field_fn, body, dict(fitted_body, betas=betas), fitted_object['R'],
                                  fitted_object['t'], template, vertex_parts, steps=int(cfg['joint_steps']),
                                  lr=float(cfg['joint_lr']), vertex_subset=subset, body_terms=body_terms,
                                  object_terms=object_terms, contact_threshold=float(cfg['contact_threshold']),
                                  w_contact=float(cfg['w_joint_contact']),
                                  w_contact_object=float(cfg['w_joint_contact_object']),
                                  collision_meshes=meshes, w_collision=float(cfg['w_collision']))
                fitted_body, fitted_object = joint['body'], dict(R=joint['R'], t=joint['t'])
        scale = fitted_body['scale']
        for i, sample in enumerate(samples):
            init = InstanceData(human_vertices=init_vertices[i:i + 1].cpu(), betas=betas[i:i + 1].cpu(),
                                global_orient=go0[i:i + 1].cpu(), body_pose=body_pose0[i:i + 1].cpu(),
                                transl=transl0_body[i:i + 1].cpu(), object_R=R0[i:i + 1].cpu(),
                                object_t=centre0[i:i + 1].cpu(), scene_scale=torch.ones(1))
            pred = InstanceData(human_vertices=fitted_body['vertices'][i:i + 1].cpu(), betas=betas[i:i + 1].cpu(),
                                global_orient=fitted_body['global_orient'][i:i + 1].cpu(),
                                body_pose=fitted_body['body_pose'][i:i + 1].cpu(),
                                transl=fitted_body['transl'][i:i + 1].cpu(),
                                object_R=fitted_object['R'][i:i + 1].cpu(),
                                object_t=(fitted_object['t'][i:i + 1] / scale[i]).cpu(),
                                scene_scale=scale[i:i + 1].cpu())
            sample.init_instances = init
            sample.pred_instances = pred
        return samples


__all__ = ['CHOREReconstructor', 'DEFAULT_FITTING', 'initial_body', 'kabsch', 'place_posed_body', 'umeyama']
