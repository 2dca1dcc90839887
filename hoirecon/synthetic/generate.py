"""Generate a synthetic HOI dataset in the real BEHAVE on-disk layout.

Steps, each skipped when its output exists (so an interrupted run resumes):

1. ``body_models/smplh/SMPLH_{MALE,FEMALE,NEUTRAL}.pkl`` (+ BODY_25 regressor): the body model used;
2. ``objects/<name>/<name>_f1000.ply`` ...: the object templates (``hoirecon.objects``);
3. ``calibs/``: shared intrinsics and one 4-camera rig per capture day;
4. ``sequences/<seq>/info.json`` and every frame (in parallel, one folder rename per frame);
5. ``split.json``, then the manifest is marked complete.

``synthetic_manifest.json`` records the generation parameters; resuming into a
folder made with other parameters is refused. The output is a pure function of
the parameters (not of the number of workers): every sequence and frame draws
from its own seeded random generator.
"""
import json
import multiprocessing as mp
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from hoirecon.datasets.behave_frames import SYNTHETIC_MANIFEST
from hoirecon.datasets.behave_io import frame_folder_name
from hoirecon.objects import ObjectLibrary, write_template_folder
from hoirecon.objects.io import find_template_file
from hoirecon.objects.catalogue import BEHAVE_OBJECTS
from .cameras import NUM_KINECTS, behave_like_intrinsics, sample_camera_rig
from .scene import ACTIONS, ObjectGeometry, allowed_actions
from .writer import date_name, write_date_config, write_intrinsics, write_json, write_sequence_info

GENERATOR_VERSION = 1
NUM_DATES = 7
#: BEHAVE's subjects and their genders (Sub01-05 male, Sub06-08 female).
SUBJECT_GENDERS = {1: 'male', 2: 'male', 3: 'male', 4: 'male', 5: 'male', 6: 'female', 7: 'female', 8: 'female'}
FIRST_FRAME_SECONDS = 3
BODY_MODEL_FILES = ('SMPLH_MALE.pkl', 'SMPLH_FEMALE.pkl', 'SMPLH_NEUTRAL.pkl', 'J_regressor_body25_smplh.txt')
#: Seed streams, so that e.g. the camera rigs do not change when the number of sequences does.
STREAM_INTRINSICS, STREAM_DATE, STREAM_SUBJECT, STREAM_SEQUENCE, STREAM_PLAN, STREAM_SPLIT = range(6)


@dataclass(frozen=True)
class SequenceSpec:
    """One planned sequence.

    Attributes:
        index: Position in the plan (seeds its random stream).
        name: ``Date0d_Sub0s_<obj>_<action>`` (a digit is appended to repeated names).
        date, subject: Capture day (1..7) and subject (1..8).
        gender: 'male' or 'female' (BEHAVE's subject genders).
        obj_name: BEHAVE object name.
        action: One of :data:`hoirecon.synthetic.scene.ACTIONS`.
        split: 'train' or 'test'.
    """
    index: int
    name: str
    date: int
    subject: int
    gender: str
    obj_name: str
    action: str
    split: str


def stream(seed: int, *keys: int) -> np.random.Generator:
    """Independent random generator for ``(seed, *keys)``."""
    return np.random.default_rng([int(seed), *[int(k) for k in keys]])


def camera_intrinsics(seed: int, image_size: tuple) -> list:
    """The four kinects' intrinsics: BEHAVE's k1 scaled to ``image_size`` with a 1 % spread."""
    rng = stream(seed, STREAM_INTRINSICS)
    return [behave_like_intrinsics(image_size, rng, jitter=0.01) for _ in range(NUM_KINECTS)]


def camera_rig(seed: int, date: int):
    """The 4-camera rig of capture day ``date`` (1..7)."""
    return sample_camera_rig(stream(seed, STREAM_DATE, date))


def subject_betas(seed: int, subject: int) -> np.ndarray:
    """(10,) float32 persistent shape of a subject: N(0, 1), clipped to +-2.5."""
    return np.clip(stream(seed, STREAM_SUBJECT, subject).standard_normal(10), -2.5, 2.5).astype(np.float32)


def frame_names(frames_per_sequence: int) -> list:
    """``['t0003.000', 't0004.000', ...]``: BEHAVE's 1 fps folder names."""
    return [frame_folder_name(FIRST_FRAME_SECONDS + i) for i in range(frames_per_sequence)]


def plan_sequences(num_sequences: int, seed: int, objects: dict, test_fraction: float) -> list:
    """Draw the sequences: objects in a shuffled round robin, an action the object affords, a subject and a day.

    Args:
        num_sequences: How many sequences.
        seed: Global seed.
        objects: name -> :class:`ObjectGeometry` of the objects to use.
        test_fraction: Fraction of whole sequences in the test split (at
            least one of each split when there are two or more sequences).

    Returns:
        list of :class:`SequenceSpec`.
    """
    rng = stream(seed, STREAM_PLAN)
    names = sorted(objects)
    order = []
    while len(order) < num_sequences:
        order += list(rng.permutation(names))
    num_test = int(round(num_sequences * test_fraction))
    if num_sequences >= 2:
        num_test = min(max(num_test, 1), num_sequences - 1)
    test_ids = set(stream(seed, STREAM_SPLIT).permutation(num_sequences)[:num_test].tolist())
    specs, used = [], set()
    for index in range(num_sequences):
        obj_name = str(order[index])
        action = str(rng.choice(allowed_actions(objects[obj_name])))
        subject, date = int(rng.integers(1, 9)), int(rng.integers(1, NUM_DATES + 1))
        base = f'{date_name(date)}_Sub{subject:02d}_{obj_name}_{action}'
        name, repeat = base, 1
        while name in used:
            repeat += 1
            name = f'{base}{repeat}'
        used.add(name)
        specs.append(SequenceSpec(index=index, name=name, date=date, subject=subject, gender=SUBJECT_GENDERS[subject],
                                  obj_name=obj_name, action=action, split='test' if index in test_ids else 'train'))
    return specs


# ----------------------------------------------------------------------------- steps
def _link_or_copy(src: str, dst: str):
    os.makedirs(osp.dirname(dst), exist_ok=True)
    tmp = f'{dst}.tmp{os.getpid()}'
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def write_body_models(out_dir: str, body_model_root: str = None) -> str:
    """Put the SMPL-H files used into ``out_dir/body_models/smplh`` (hard links when possible).

    Args:
        out_dir: Dataset root.
        body_model_root: Folder with ``smplh/SMPLH_*.pkl``; None for the
            licence-free surrogate (built once into the hoirecon cache).

    Returns:
        ``out_dir/body_models``.
    """
    from hoirecon.assets import ensure_surrogate_body
    target = osp.join(out_dir, 'body_models')
    if all(osp.isfile(osp.join(target, 'smplh', name)) for name in BODY_MODEL_FILES[:3]):
        return target
    source = ensure_surrogate_body() if body_model_root is None else body_model_root
    for name in BODY_MODEL_FILES:
        src = osp.join(source, 'smplh', name)
        if osp.isfile(src):
            _link_or_copy(src, osp.join(target, 'smplh', name))
        elif name != BODY_MODEL_FILES[-1]:
            raise FileNotFoundError(f'body model file {src} not found; body_model_root must hold smplh/{name} '
                                    '(see docs/body_models.md).')
    return target


def write_objects(out_dir: str) -> str:
    """Write the procedural BEHAVE templates to ``out_dir/objects`` unless all are there."""
    target = osp.join(out_dir, 'objects')
    try:
        for name in BEHAVE_OBJECTS:
            find_template_file(target, name, 'behave')
    except FileNotFoundError:
        write_template_folder(target, 'behave')
    return target


def load_objects(out_dir: str, names: tuple) -> dict:
    """name -> :class:`ObjectGeometry` read back from ``out_dir/objects`` (centred at the vertex mean)."""
    library = ObjectLibrary('behave', osp.join(out_dir, 'objects'))
    return {name: ObjectGeometry.from_template(name, library[name].vertices, library[name].faces) for name in names}


def write_calibration(out_dir: str, seed: int, image_size: tuple):
    """Write ``calibs/intrinsics`` and ``calibs/Date01..07/config``."""
    calibs = osp.join(out_dir, 'calibs')
    write_intrinsics(calibs, camera_intrinsics(seed, image_size))
    for date in range(1, NUM_DATES + 1):
        rig = camera_rig(seed, date)
        write_date_config(calibs, date, rig.cam_to_world_R, rig.cam_to_world_t)


def _check_manifest(out_dir: str, params: dict):
    path = osp.join(out_dir, SYNTHETIC_MANIFEST)
    if osp.isfile(path):
        with open(path) as f:
            previous = json.load(f)
        old = previous.get('params', {})
        diff = {key: (old.get(key), params.get(key))
                for key in set(old) | set(params) if old.get(key) != params.get(key)}
        if diff:
            details = ', '.join(f'{key}: {a!r} -> {b!r}' for key, (a, b) in sorted(diff.items()))
            raise ValueError(f'{out_dir} holds a synthetic dataset made with other parameters ({details}). Pass the '
                             'same parameters to resume it, or choose another output folder.')
        return previous
    if osp.isdir(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f'{out_dir} is not empty and has no {SYNTHETIC_MANIFEST}; refusing to write a synthetic '
                              'dataset into it. Choose an empty or new folder.')
    return None


def start_generation(out_dir: str, params: dict) -> str:
    """The absolute ``out_dir``, made, with an incomplete manifest of ``params``; refuses a folder written with other
    parameters or a non-empty folder without a manifest (:func:`_check_manifest`)."""
    out_dir = osp.abspath(out_dir)
    _check_manifest(out_dir, params)
    os.makedirs(out_dir, exist_ok=True)
    _write_manifest(out_dir, params, complete=False)
    return out_dir


def restrict_interactions(geometries: dict, actions) -> None:
    """With ``actions`` (None: all), keep in each object's ``hints['interactions']`` only the actions it affords among
    them; a ValueError names an object that affords none."""
    if actions is None:
        return
    for name, geometry in geometries.items():
        afforded = [a for a in allowed_actions(geometry) if a in actions]
        if not afforded:
            raise ValueError(f'object {name!r} affords none of the actions {list(actions)} (it affords '
                             f'{list(allowed_actions(geometry))}); drop it from objects or allow more actions.')
        geometry.hints['interactions'] = tuple(afforded)


def _write_manifest(out_dir: str, params: dict, complete: bool, summary: dict = None):
    write_json(osp.join(out_dir, SYNTHETIC_MANIFEST), {'generator': 'hoirecon.synthetic', 'version': GENERATOR_VERSION,
                                                       'params': params, 'complete': complete,
                                                       'summary': summary or {}})


_FRAME_MAKER = None


def add_world_arguments(parser, objects_help: str = 'BEHAVE objects to use (default: all 20)',
                        object_choices: tuple = BEHAVE_OBJECTS, image_size_default: tuple = (512, 384),
                        image_size_help: str = None) -> None:
    """The options that tools/make_synthetic_dataset.py and tools/make_synthetic_sequences.py share: image size,
    objects, actions, keypoint and correspondence noise, test fraction, workers, body model (the keyword arguments of
    :func:`generate_synthetic_behave` and ``generate_synthetic_sequences`` of the same names).

    ``object_choices``, ``image_size_default`` and ``image_size_help`` let a tool that writes several layouts
    (e.g. InterCap's objects, a per-layout default size) widen the defaults, which are the BEHAVE world's."""
    parser.add_argument('--image-size', type=int, nargs=2, default=image_size_default, metavar=('WIDTH', 'HEIGHT'),
                        help=image_size_help or "image size in pixels; intrinsics are BEHAVE's scaled to it "
                        '(default 512 384)')
    parser.add_argument('--objects', nargs='+', default=None, choices=object_choices, metavar='NAME',
                        help=objects_help)
    parser.add_argument('--actions', nargs='+', default=None, choices=ACTIONS, help='restrict the interactions')
    parser.add_argument('--keypoint-noise', type=float, default=2.0, help='OpenPose-like keypoint noise std, pixels')
    parser.add_argument('--corr-noise', type=float, default=1.0, help='noise std of correspondence 2D points, pixels')
    parser.add_argument('--corr-outliers', type=float, default=0.1, help='fraction of outlier correspondences')
    parser.add_argument('--corr-points', type=int, default=1024, help='correspondences per image')
    parser.add_argument('--test-fraction', type=float, default=1 / 6, help='fraction of sequences in the test split')
    parser.add_argument('--workers', type=int, default=2, help='rendering processes (default 2)')
    parser.add_argument('--body-model-root', default=None,
                        help='folder with smplh/SMPLH_{MALE,FEMALE,NEUTRAL}.pkl (default: the licence-free surrogate)')


def limit_worker_threads() -> None:
    """In a generation worker: one thread for Mesa's llvmpipe, and for torch, OpenCV and BLAS as in a data-loader
    worker (:func:`hoirecon.engine.threads.limit_worker_threads`); the pool gives the parallelism."""
    os.environ.setdefault('LP_NUM_THREADS', '1')
    from hoirecon.engine.threads import limit_worker_threads as limit_loader_worker_threads
    limit_loader_worker_threads()


_TASK_MAKER = None


def _task_worker_init(maker_class: type, params: dict):
    """Pool initializer of :func:`run_frame_tasks`: one thread, one frame maker (and EGL renderer) per process."""
    limit_worker_threads()
    global _TASK_MAKER
    _TASK_MAKER = maker_class(params)


def _task_worker_run(task: tuple) -> int:
    return _TASK_MAKER.make_frames(task)


def run_frame_tasks(maker_class: type, params: dict, tasks: list, workers: int, bar) -> int:
    """Render and write frame tasks of the sequence generators, in this process or in a pool of processes.

    Args:
        maker_class: a frame maker class (``SequenceFrameMaker``, ``InterCapFrameMaker``): built from ``params``,
            ``make_frames(task)`` writes a task's frames and returns their number, ``close()`` frees its renderer.
        params: the generator's parameters plus ``out_dir``.
        tasks: tasks whose item 3 is the list of frames (the progress unit).
        workers: processes; with <= 1 (or one task) the frames are made here, torch on one thread (float results
            must not depend on the thread count), else a 'spawn' pool of ``min(workers, len(tasks))`` processes.
        bar: tqdm progress bar advanced by frames.

    Returns:
        The number of frames written.
    """
    import torch
    generated = 0
    if workers <= 1 or len(tasks) <= 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        maker = maker_class(params)
        try:
            for task in tasks:
                generated += maker.make_frames(task)
                bar.update(len(task[3]))
        finally:
            maker.close()
            torch.set_num_threads(threads)
        return generated
    with mp.get_context('spawn').Pool(min(workers, len(tasks)), initializer=_task_worker_init,
                                      initargs=(maker_class, params)) as pool:
        for made in pool.imap_unordered(_task_worker_run, tasks):
            generated += made
            bar.update(made)
    return generated


def _worker_init(params: dict):
    """Pool initializer: one thread per process (torch and Mesa's llvmpipe) and one EGL renderer per process."""
    limit_worker_threads()
    global _FRAME_MAKER
    from .frames import FrameMaker
    _FRAME_MAKER = FrameMaker(params)


def _worker_run(spec: SequenceSpec) -> int:
    return _FRAME_MAKER.make_sequence(spec)


def generate_synthetic_behave(out_dir: str,
                              num_sequences: int = 156,
                              frames_per_sequence: int = 4,
                              seed: int = 0,
                              image_size: tuple = (512, 384),
                              objects: tuple = None,
                              actions: tuple = None,
                              keypoint_noise_px: float = 2.0,
                              corr_noise_px: float = 1.0,
                              corr_outlier_ratio: float = 0.1,
                              corr_num_points: int = 1024,
                              test_fraction: float = 1 / 6,
                              workers: int = 2,
                              body_model_root: str = None,
                              progress: bool = True) -> dict:
    """Generate (or resume) a synthetic dataset in BEHAVE's layout.

    The defaults (156 sequences x 4 frames x 4 cameras, 1/6 test) give 2080
    training and 416 test images.

    Args:
        out_dir: Dataset root (created; must be empty or a previous run's output).
        num_sequences: Number of sequences.
        frames_per_sequence: Frames per sequence (<= 997, folder names t0003.000 ...).
        seed: Global seed; the dataset is a pure function of the parameters.
        image_size: (width, height) in pixels; intrinsics scale accordingly.
        objects: BEHAVE object names to use (default all 20).
        actions: Restrict actions to these (default: every action an object affords).
        keypoint_noise_px: Std of the OpenPose-like keypoint noise, pixels.
        corr_noise_px: Std of the noise on correspondence 2D points, pixels.
        corr_outlier_ratio: Fraction of correspondences that are outliers.
        corr_num_points: Correspondences per image (fewer when less is visible).
        test_fraction: Fraction of sequences in the test split.
        workers: Processes that render (each with its own EGL context).
        body_model_root: Folder with ``smplh/SMPLH_*.pkl``; None = the surrogate.
        progress: Show tqdm progress bars.

    Returns:
        Summary dict: ``out_dir``, ``num_sequences``, ``num_frames``,
        ``train_images``, ``test_images``, ``generated_frames``,
        ``skipped_frames``, ``seconds``.
    """
    start = time.time()
    objects = tuple(BEHAVE_OBJECTS if objects is None else objects)
    unknown = sorted(set(objects) - set(BEHAVE_OBJECTS)) + sorted(set(actions or ()) - set(ACTIONS))
    if unknown:
        raise ValueError(f'unknown objects/actions {unknown}; objects: {BEHAVE_OBJECTS}, actions: {ACTIONS}.')
    if not 1 <= frames_per_sequence <= 997 or num_sequences < 1:
        raise ValueError(f'need num_sequences >= 1 and 1 <= frames_per_sequence <= 997 (BEHAVE frame names '
                         f't0003.000..t0999.000), got {num_sequences} and {frames_per_sequence}.')
    params = {
        'num_sequences': int(num_sequences), 'frames_per_sequence': int(frames_per_sequence), 'seed': int(seed),
        'image_size': [int(image_size[0]), int(image_size[1])], 'objects': list(objects),
        'actions': None if actions is None else list(actions), 'keypoint_noise_px': float(keypoint_noise_px),
        'corr_noise_px': float(corr_noise_px), 'corr_outlier_ratio': float(corr_outlier_ratio),
        'corr_num_points': int(corr_num_points), 'test_fraction': float(test_fraction),
        'body_model_root': None if body_model_root is None else osp.abspath(body_model_root),
        'version': GENERATOR_VERSION,
    }
    out_dir = start_generation(out_dir, params)

    write_body_models(out_dir, body_model_root)
    write_objects(out_dir)
    write_calibration(out_dir, seed, image_size)
    geometries = load_objects(out_dir, objects)
    restrict_interactions(geometries, actions)
    specs = plan_sequences(num_sequences, seed, geometries, test_fraction)
    for spec in specs:
        write_sequence_info(osp.join(out_dir, 'sequences', spec.name), spec.date, spec.obj_name, spec.gender)

    frames = frame_names(frames_per_sequence)
    todo = [spec for spec in specs
            if not all(osp.isdir(osp.join(out_dir, 'sequences', spec.name, frame)) for frame in frames)]
    worker_params = dict(params, out_dir=out_dir)
    bar = tqdm(total=len(specs) * len(frames), desc='synthetic BEHAVE frames', disable=not progress,
               initial=(len(specs) - len(todo)) * len(frames))
    if workers <= 1 or len(todo) <= 1:
        import torch
        from .frames import FrameMaker
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as in the workers: float results must not depend on the thread count
        maker = FrameMaker(worker_params)
        try:
            generated = _drain(map(maker.make_sequence, todo), bar, frames)
        finally:
            maker.close()
            torch.set_num_threads(threads)
    else:
        context = mp.get_context('spawn')
        with context.Pool(min(workers, len(todo)), initializer=_worker_init, initargs=(worker_params, )) as pool:
            generated = _drain(pool.imap_unordered(_worker_run, todo), bar, frames)
    bar.close()

    write_json(osp.join(out_dir, 'split.json'), {
        'train': [s.name for s in specs if s.split == 'train'],
        'test': [s.name for s in specs if s.split == 'test'],
    })
    per_sequence = len(frames) * NUM_KINECTS
    summary = {
        'out_dir': out_dir, 'num_sequences': len(specs), 'num_frames': len(specs) * len(frames),
        'train_images': per_sequence * sum(s.split == 'train' for s in specs),
        'test_images': per_sequence * sum(s.split == 'test' for s in specs),
        'generated_frames': generated, 'skipped_frames': len(specs) * len(frames) - generated,
        'seconds': round(time.time() - start, 2),
        'sequences': [asdict(s) for s in specs],
    }
    _write_manifest(out_dir, params, complete=True, summary={k: v for k, v in summary.items() if k != 'sequences'})
    return summary


def _drain(results, bar, frames) -> int:
    generated = 0
    for made in results:
        generated += made
        bar.update(len(frames))
    return generated
