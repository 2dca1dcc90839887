"""Making the frames of one synthetic sequence: pose, render, annotate, write (one worker process)."""
import os.path as osp
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from hoirecon.datasets.behave_io import object_pose_to_camera, object_vertices, transform_smplh_params
from hoirecon.models.body_models import SMPLH
from .annotations import noisy_body25, object_coordinates, sample_correspondences
from .appearance import Lighting, clothing_colors, floor_mesh, object_colors, random_background, sample_lighting
from .cameras import NUM_KINECTS, CameraRig
from .generate import (STREAM_SEQUENCE, SequenceSpec, camera_intrinsics, camera_rig, frame_names, load_objects,
                       stream, subject_betas)
from .render import ColoredMesh, HOIRenderer, View
from .scene import HELD_ACTIONS, BodyGeometry, MotionPlan, ObjectGeometry, interaction_state, plan_motion
from .writer import (atomic_folder, remove_stale_temporaries, write_coordinate_map, write_image, write_keypoints,
                     write_mask, write_object_fit, write_person_fit, write_pickle)

FOOT_PARTS = (7, 8, 10, 11)


@dataclass
class SequenceContext:
    """Everything constant over one sequence (``labels``: (V,) skeleton joint of each body vertex)."""
    spec: SequenceSpec
    model: SMPLH
    labels: np.ndarray
    betas: torch.Tensor
    rest_root: np.ndarray
    body: BodyGeometry
    obj: ObjectGeometry
    plan: MotionPlan
    rig: CameraRig
    body_colors: np.ndarray
    object_colors: np.ndarray
    floor: ColoredMesh
    lighting: Lighting
    backgrounds: list


def joint_labels(model: SMPLH) -> np.ndarray:
    """(V,) int64: the skeleton joint (0..51, fingers included) with the largest skinning weight per vertex."""
    return np.argmax(model.skinning_weights, axis=1)


def _to_world(rig: CameraRig, points: np.ndarray) -> np.ndarray:
    return points @ rig.scene_to_world[:3, :3].T + rig.scene_to_world[:3, 3]


class FrameMaker:
    """Generates frames into a dataset folder; holds one EGL renderer and caches body models and objects.

    Args:
        params: The generation parameters of :func:`generate_synthetic_behave` plus ``out_dir``.
    """

    def __init__(self, params: dict):
        self.params = params
        self.out_dir = params['out_dir']
        width, height = params['image_size']
        self.renderer = HOIRenderer(width, height)
        self.intrinsics = camera_intrinsics(params['seed'], tuple(params['image_size']))
        self._models, self._objects = {}, {}

    def close(self):
        self.renderer.close()

    def _model(self, gender: str) -> SMPLH:
        if gender not in self._models:
            self._models[gender] = SMPLH(model_path=osp.join(self.out_dir, 'body_models'), gender=gender)
        return self._models[gender]

    def _object(self, name: str) -> ObjectGeometry:
        if name not in self._objects:
            self._objects.update(load_objects(self.out_dir, (name, )))
        return self._objects[name]

    # ---- what a layout changes in a sequence's context (the InterCap maker overrides these)
    def sequence_rng(self, spec: SequenceSpec) -> np.random.Generator:
        """The random stream of a sequence's plan and appearance."""
        return stream(self.params['seed'], STREAM_SEQUENCE, spec.index)

    def sequence_body(self, spec: SequenceSpec) -> tuple:
        """``(body model, betas (1, 10) tensor)`` that the motion is planned with."""
        return self._model(spec.gender), torch.from_numpy(subject_betas(self.params['seed'], spec.subject))[None]

    def sequence_rig(self, spec: SequenceSpec) -> CameraRig:
        return camera_rig(self.params['seed'], spec.date)

    def color_labels(self, labels: np.ndarray) -> np.ndarray:
        """Body-part label per vertex of the rendered body (for the clothing colours)."""
        return labels

    #: Cameras a sequence is rendered by (one background image each).
    num_views = NUM_KINECTS

    def sequence_context(self, spec: SequenceSpec) -> SequenceContext:
        """Body, object, motion, cameras and appearance of a sequence (deterministic in the seed)."""
        rng = self.sequence_rng(spec)
        model, betas = self.sequence_body(spec)
        with torch.no_grad():
            rest = model.forward_axis_angle(betas=betas)
            rest_root = model.rest_root_joint(betas)[0].double().numpy()
        labels = joint_labels(model)
        body = BodyGeometry.from_rest(rest.joints[0].double().numpy(), rest.vertices[0].double().numpy(), labels)
        obj = self._object(spec.obj_name)
        plan = plan_motion(rng, spec.action, obj)
        rig = self.sequence_rig(spec)
        floor_vertices, floor_faces, floor_colors = floor_mesh(rng)
        scene_lighting = sample_lighting(rng)
        lighting = Lighting(direction=rig.scene_to_world[:3, :3] @ scene_lighting.direction,
                            color=scene_lighting.color, intensity=scene_lighting.intensity,
                            fill_intensity=scene_lighting.fill_intensity, ambient=scene_lighting.ambient)
        width, height = self.params['image_size']
        return SequenceContext(
            spec=spec, model=model, labels=labels, betas=betas, rest_root=rest_root, body=body, obj=obj, plan=plan,
            rig=rig, body_colors=clothing_colors(rng, self.color_labels(labels)),
            object_colors=object_colors(rng, len(obj.vertices)),
            floor=ColoredMesh(_to_world(rig, floor_vertices), floor_faces, floor_colors), lighting=lighting,
            backgrounds=[random_background(rng, width, height) for _ in range(self.num_views)])

    def make_sequence(self, spec: SequenceSpec) -> int:
        """Write the missing frames of a sequence; returns how many were written."""
        names = frame_names(self.params['frames_per_sequence'])
        seq_dir = osp.join(self.out_dir, 'sequences', spec.name)
        missing = [i for i, name in enumerate(names) if not osp.isdir(osp.join(seq_dir, name))]
        if missing:
            for folder in ('sequences', 'epro_pnp', 'object_coor_maps'):
                remove_stale_temporaries(osp.join(self.out_dir, folder, spec.name))
            context = self.sequence_context(spec)
            for i in missing:
                self.make_frame(context, i, names[i])
        return len(missing)

    def frame_state(self, context: SequenceContext, index: int) -> dict:
        """World-frame ground truth of frame ``index``: SMPL-H fit, object fit, meshes and BODY_25 joints."""
        num_frames = self.params['frames_per_sequence']
        state = interaction_state(context.plan, context.body, context.obj, index / max(num_frames - 1, 1))
        model, rig = context.model, context.rig
        with torch.no_grad():
            scene_verts = model.forward_axis_angle(context.betas, torch.from_numpy(state.pose)[None],
                                                   torch.from_numpy(state.trans)[None]).vertices[0].numpy()
        trans, obj_trans = state.trans.astype(np.float64), state.object_translation.copy()
        if context.plan.action in HELD_ACTIONS:  # the soles on the floor; the held object comes along
            lift = -scene_verts[np.isin(context.labels, FOOT_PARTS), 1].min()
            trans[1] += lift
            obj_trans[1] += lift
        rot_ws, trans_ws = rig.scene_to_world[:3, :3], rig.scene_to_world[:3, 3]
        pose_w, trans_w = transform_smplh_params(state.pose, trans, context.rest_root, rot_ws, trans_ws)
        pose_w, trans_w = pose_w.astype(np.float32), trans_w.astype(np.float32)
        angle_w = Rotation.from_matrix(rot_ws @ state.object_rotation).as_rotvec().astype(np.float32)
        obj_trans_w = (rot_ws @ obj_trans + trans_ws).astype(np.float32)
        # the written parameters pose the same mesh up to float32 round-off: move the scene mesh rigidly
        body_vertices = scene_verts.astype(np.float64) + np.array([0.0, trans[1] - state.trans[1], 0.0])
        body_vertices = body_vertices @ rot_ws.T + trans_ws
        with torch.no_grad():
            body25 = model.body25(torch.from_numpy(body_vertices)[None])[0].numpy()
        return {
            'pose': pose_w, 'trans': trans_w, 'betas': context.betas[0].numpy(), 'angle': angle_w,
            'obj_trans': obj_trans_w, 'body_vertices': body_vertices, 'body25': body25,
            'object_vertices': object_vertices(context.obj.vertices, angle_w, obj_trans_w),
        }

    def make_frame(self, context: SequenceContext, index: int, frame: str):
        """Render, annotate and write one frame (each output folder appears complete or not at all)."""
        params, spec, rig = self.params, context.spec, context.rig
        gt = self.frame_state(context, index)
        views = []
        for k in range(NUM_KINECTS):
            rot, trans = rig.world_to_cam(k)
            views.append(View(self.intrinsics[k], rot, trans, context.backgrounds[k]))
        renders = self.renderer.render(
            ColoredMesh(gt['body_vertices'], context.model.faces, context.body_colors),
            ColoredMesh(gt['object_vertices'], context.obj.faces, context.object_colors), context.floor,
            context.lighting, views)
        rng = stream(params['seed'], STREAM_SEQUENCE, spec.index, 1000 + index)
        keypoints, correspondences, coords = [], [], []
        for k, (view, render) in enumerate(zip(views, renders)):
            joints_cam = gt['body25'] @ view.rotation.T + view.translation
            keypoints.append(noisy_body25(rng, joints_cam, view.intrinsics, render.object_depth,
                                          params['keypoint_noise_px']))
            obj_rot, obj_trans = object_pose_to_camera(gt['angle'], gt['obj_trans'], rig.cam_to_world_R[k],
                                                       rig.cam_to_world_t[k])
            coords.append(object_coordinates(render.object_depth, view.intrinsics, obj_rot, obj_trans))
            correspondences.append(sample_correspondences(rng, render.object_mask & render.object_full, coords[-1],
                                                          params['corr_num_points'], params['corr_noise_px'],
                                                          params['corr_outlier_ratio']))
        with atomic_folder(osp.join(self.out_dir, 'epro_pnp', spec.name, frame)) as tmp:
            for k, corr in enumerate(correspondences):
                write_pickle(osp.join(tmp, f'k{k}.obj_coor.pkl'), corr)
        with atomic_folder(osp.join(self.out_dir, 'object_coor_maps', spec.name, frame)) as tmp:
            for k, render in enumerate(renders):
                write_coordinate_map(tmp, k, render.object_full, coords[k])
        with atomic_folder(osp.join(self.out_dir, 'sequences', spec.name, frame)) as tmp:
            write_person_fit(tmp, gt['pose'], gt['betas'], gt['trans'], gt['body_vertices'], context.model.faces)
            write_object_fit(tmp, spec.obj_name, gt['angle'], gt['obj_trans'], gt['object_vertices'],
                             context.obj.faces)
            for k, render in enumerate(renders):
                write_image(osp.join(tmp, f'k{k}.color.jpg'), render.color)
                write_mask(osp.join(tmp, f'k{k}.person_mask.jpg'), render.person_mask)
                write_mask(osp.join(tmp, f'k{k}.obj_rend_mask.jpg'), render.object_mask)
                write_mask(osp.join(tmp, f'k{k}.obj_rend_full.jpg'), render.object_full)
                write_keypoints(osp.join(tmp, f'k{k}.color.json'), keypoints[k])
