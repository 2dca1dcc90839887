"""Pictures of test/val predictions: ``tools/test.py CONFIG CKPT --show-dir DIR``."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from hoirecon.registry import HOOKS


@HOOKS.register_module()
class HOIVisualizationHook(Hook):
    """Render each scored image's reconstruction over the image and save one picture per image.

    A picture (:func:`~hoirecon.visualization.render_summary`) shows the input, the network's reconstruction
    (``init_instances``, when the model has a refiner), the prediction (``pred_instances``) and the prediction
    turned about the vertical axis. Meshes: the predicted
    ``human_vertices`` with the model's body-model faces, and the object library's template posed by
    ``object_R`` / ``object_t``. Rendering is offscreen (pyrender, EGL) and imported only when enabled.

    Args:
        enable: draw at all (``tools/test.py --show-dir`` switches it on).
        out_dir: folder of the pictures; relative paths are inside the run's work_dir.
        interval: draw every ``interval``-th batch.
        max_images: stop after this many pictures (None: no limit).
        object_library: :class:`~hoirecon.objects.ObjectLibrary` arguments; default: the test (or val)
            evaluator's ``object_library``, else ``dict(dataset='behave')``.
        side_angle: turn of the last panel, degrees.
    """

    priority = 'NORMAL'

    def __init__(self,
                 enable: bool = False,
                 out_dir: Optional[str] = None,
                 interval: int = 1,
                 max_images: Optional[int] = 100,
                 object_library: Optional[dict] = None,
                 side_angle: float = 90.0):
        if int(interval) < 1:
            raise ValueError(f'HOIVisualizationHook: interval must be >= 1, got {interval}.')
        self.enable = enable
        self.out_dir = out_dir
        self.interval = int(interval)
        self.max_images = max_images
        self.object_library_cfg = object_library
        self.side_angle = float(side_angle)
        self._renderer = None
        self._library = None
        self._count = 0

    # ------------------------------------------------------------------ runner events
    def before_test(self, runner) -> None:
        self._count = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, batch_idx, outputs, 'test_evaluator')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, batch_idx, outputs, 'val_evaluator')

    def after_test(self, runner) -> None:
        self._close()

    def after_run(self, runner) -> None:
        self._close()

    # ------------------------------------------------------------------ drawing
    def _close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _folder(self, runner) -> str:
        folder = self.out_dir or 'vis'
        return folder if osp.isabs(folder) else osp.join(runner.work_dir, folder)

    def _objects(self, runner, evaluator_key: str):
        if self._library is None:
            from hoirecon.objects import ObjectLibrary, evaluator_object_library
            cfg = self.object_library_cfg or evaluator_object_library(runner.cfg.get(evaluator_key))
            self._library = ObjectLibrary(**dict(cfg))
        return self._library

    def _draw(self, runner, batch_idx: int, outputs, evaluator_key: str) -> None:
        if not self.enable or not outputs or batch_idx % self.interval:
            return
        if self.max_images is not None and self._count >= self.max_images:
            return
        from hoirecon.visualization import MeshRenderer
        if self._renderer is None:
            self._renderer = MeshRenderer()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        faces = model.body_model.faces_tensor.cpu().numpy()
        folder = self._folder(runner)
        os.makedirs(folder, exist_ok=True)
        from hoirecon.visualization import save_image
        for sample in outputs:
            if self.max_images is not None and self._count >= self.max_images:
                break
            picture = self.picture(sample, faces, self._objects(runner, evaluator_key))
            if picture is None:
                continue
            name = str(sample.metainfo.get('img_id', self._count)).replace(os.sep, '_')
            save_image(osp.join(folder, f'{name}.jpg'), picture)
            self._count += 1

    def picture(self, sample, faces, library):
        """(H, W', 3) uint8 panels of one data sample, or None when it has no image path or a non-finite mesh."""
        import numpy as np
        from hoirecon.datasets.behave_io import load_image
        from hoirecon.visualization import Mesh, default_colors, render_summary
        path = sample.metainfo.get('img_path')
        if not path or 'pred_instances' not in sample:
            return None
        template = library[sample.metainfo['object_name']]
        colors = default_colors(1)

        def meshes(instances):
            human = instances.human_vertices[0].detach().cpu().numpy().astype(np.float64)
            obj = template.posed(instances.object_R[0].detach().cpu().numpy(), instances.object_t[0].detach().cpu(
            ).numpy())
            if not (np.isfinite(human).all() and np.isfinite(obj).all()):
                return None
            return [Mesh(human, faces, colors[0], 'human'), Mesh(obj, template.faces, colors[1], 'object')]

        prediction = meshes(sample.pred_instances)
        if prediction is None:
            return None
        network = meshes(sample.init_instances) if 'init_instances' in sample else None
        return render_summary(self._renderer, load_image(path), prediction,
                              np.asarray(sample.metainfo['cam_K'], np.float64), network, self.side_angle).summary
