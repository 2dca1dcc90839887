"""Finding, reading and checking SMPL / SMPL-H / SMPL-X model files, with errors that say how to fix them."""
import os
import os.path as osp
import pickle
import zipfile
from typing import List

import numpy as np

from hoirecon.structures.body_skeletons import NUM_SKELETON_JOINTS, smplx_vertex_ids

MODEL_TITLES = {'smpl': 'SMPL', 'smplh': 'SMPL-H', 'smplx': 'SMPL-X'}
GENDERS = ('neutral', 'male', 'female')
#: File extensions tried, in order, per model type.
MODEL_EXTENSIONS = {'smpl': ('pkl', 'npz'), 'smplh': ('pkl', 'npz'), 'smplx': ('npz', 'pkl')}
_SMPL_SOURCE = ('register at https://smpl.is.tue.mpg.de and download "SMPL for Python" (v1.1.0 has all three '
                'genders; rename basicmodel_{neutral,m,f}_lbs_10_207_0_v1.1.0.pkl to SMPL_{NEUTRAL,MALE,FEMALE}.pkl)')
_SMPLH_SOURCE = ('register at https://mano.is.tue.mpg.de and download "Models & Code" (MANO v1.2, with the SMPL-H '
                 'bodies models/SMPLH_{male,female}.pkl) or the "Extended SMPL+H model"; merge the MANO hands in with '
                 "smplx's tools/merge_smplh_mano.py and name the results SMPLH_{MALE,FEMALE}.pkl (as used by "
                 'BEHAVE/StackFLOW); Extended SMPL+H smplh/<gender>/model.npz files also work renamed to '
                 'SMPLH_<GENDER>.npz')
_SMPLX_SOURCE = ('register at https://smpl-x.is.tue.mpg.de and download "SMPL-X v1.1" '
                 '(SMPLX_{NEUTRAL,MALE,FEMALE}.npz)')
#: Where the registration-gated files come from.
MODEL_SOURCES = {'smpl': _SMPL_SOURCE, 'smplh': _SMPLH_SOURCE, 'smplx': _SMPLX_SOURCE}
_REQUIRED_KEYS = ('v_template', 'f', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table')
_SMPLX_KEYS = ('lmk_faces_idx', 'lmk_bary_coords')
_JOINT_COUNT_NAMES = {24: 'SMPL', 52: 'SMPL-H', 55: 'SMPL-X', 16: 'MANO', 5: 'FLAME'}
_CHUMPY_NOTE = ("Original SMPL / SMPL-H .pkl files hold chumpy objects, and chumpy does not work with numpy >= 1.24: "
                "convert them once with smplx's tools/clean_ch.py (https://github.com/vchoutas/smplx, tools/README.md) "
                'on a machine where chumpy imports, and use the cleaned files.')


def import_smplx():
    """Import the ``smplx`` package, or fail with an install hint."""
    try:
        import smplx
    except ImportError as err:
        raise ImportError('hoirecon body models need the smplx package: pip install smplx') from err
    return smplx


def model_file_names(model_type: str, genders=GENDERS, ext: str = 'pkl') -> List[str]:
    """smplx's file names, e.g. ``['SMPLH_NEUTRAL.pkl', 'SMPLH_MALE.pkl', 'SMPLH_FEMALE.pkl']``."""
    return [f'{model_type.upper()}_{gender.upper()}.{ext}' for gender in genders]


def _missing_file_message(model_type: str, gender: str, model_path: str, candidates: List[str]) -> str:
    title = MODEL_TITLES[model_type]
    exts = '|'.join(MODEL_EXTENSIONS[model_type])
    surrogate = ("No licence? model_path='surrogate' (or `python tools/make_surrogate_body.py --out DIR`) gives a "
                 f'licence-free SURROGATE {title} (a procedural mannequin) whose numbers are not comparable to '
                 f'{title} results.')
    lines = [
        f'{title} model file for gender {gender!r} not found under model_path={model_path!r}. Looked for:',
        *[f'  {path}' for path in candidates],
        f'Expected layout: <model_path>/{model_type}/{model_type.upper()}_<GENDER>.<{exts}> with the files '
        f"{', '.join(model_file_names(model_type, ext=MODEL_EXTENSIONS[model_type][0]))} "
        f'(model_path may also be the {model_type}/ folder itself or the file).',
        f'Get them: {MODEL_SOURCES[model_type]}.',
        _CHUMPY_NOTE,
        surrogate,
        'Details: docs/body_models.md.',
    ]
    return '\n'.join(lines)


def resolve_model_file(model_path: str, model_type: str, gender: str, ext: str = None) -> str:
    """Path of the model file for a model type and gender.

    Args:
        model_path: a folder holding ``<model_type>/<TYPE>_<GENDER>.<ext>`` (smplx layout), the
            ``<model_type>/`` folder itself, or the file.
        model_type: ``'smpl'``, ``'smplh'`` or ``'smplx'``.
        gender: ``'neutral'``, ``'male'`` or ``'female'``.
        ext: preferred extension (``'pkl'`` or ``'npz'``); default tries :data:`MODEL_EXTENSIONS` in order.

    Returns:
        Existing file path.

    Raises:
        ValueError: unknown model type / gender, or a file with an unsupported extension.
        FileNotFoundError: no file found; the message lists the paths tried and how to get the files.
    """
    if model_type not in MODEL_TITLES:
        raise ValueError(f'model_type must be one of {sorted(MODEL_TITLES)}, got {model_type!r}.')
    if gender not in GENDERS:
        raise ValueError(f'{MODEL_TITLES[model_type]}: gender must be one of {GENDERS}, got {gender!r}.')
    model_path = os.fspath(model_path)
    if osp.isfile(model_path):
        if not model_path.endswith(('.pkl', '.npz')):
            raise ValueError(f'{model_path}: a body model file must end in .pkl or .npz.')
        return model_path
    exts = [ext] if ext else list(MODEL_EXTENSIONS[model_type])
    stem = f'{model_type.upper()}_{gender.upper()}'
    folders = [osp.join(model_path, model_type), model_path]
    candidates = [osp.join(folder, f'{stem}.{e}') for folder in folders for e in exts]
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(_missing_file_message(model_type, gender, model_path, candidates))


def _unwrap(value):
    """0-d object arrays from npz files (dicts, strings) back to Python objects."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
        return value.item()
    return value


def load_model_data(path: str) -> dict:
    """Read a model file (pickle read like smplx, ``encoding='latin1'``, or npz).

    Only open files from sources you trust: pickles can run code when loaded.

    Args:
        path: ``.pkl`` or ``.npz`` file.

    Returns:
        dict of the stored arrays (scipy sparse matrices are kept as they are).

    Raises:
        ImportError: the pickle holds chumpy objects (the message says how to convert it).
        ValueError: the file is corrupt or is not a dict of arrays (the message names the file).
    """
    try:
        if path.endswith('.npz'):
            with np.load(path, allow_pickle=True) as archive:
                data = {key: _unwrap(archive[key]) for key in archive.files}
        else:
            with open(path, 'rb') as f:
                data = pickle.load(f, encoding='latin1')
    except ModuleNotFoundError as err:
        if 'chumpy' in str(err):
            raise ImportError(f'{path} contains chumpy objects. {_CHUMPY_NOTE}') from err
        raise ValueError(f'Could not read body model file {path}: it needs module {err.name!r} to unpickle. '
                         f'{_CHUMPY_NOTE}') from err
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError,
            AttributeError, ImportError, IndexError, TypeError, KeyError) as err:
        raise ValueError(f'Could not read body model file {path} ({type(err).__name__}: {err}). The file is corrupt '
                         'or not a SMPL-family model file; download it again (see docs/body_models.md).') from err
    if not isinstance(data, dict):
        raise ValueError(f'Body model file {path} holds a {type(data).__name__}, expected a dict of arrays.')
    return data


def dense(array) -> np.ndarray:
    """A numpy array from a numpy array, scipy sparse matrix or array-like."""
    return np.asarray(array.toarray() if hasattr(array, 'toarray') else array)


def check_model_data(data: dict, path: str, model_type: str) -> None:
    """Check that a model file has the keys and consistent shapes a model type needs.

    Raises:
        ValueError: missing keys, wrong joint count (e.g. an SMPL file given to SMPL-H) or inconsistent shapes;
            the message names the file.
    """
    title = MODEL_TITLES[model_type]
    required = _REQUIRED_KEYS + (_SMPLX_KEYS if model_type == 'smplx' else ())
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f'{path} is not a {title} model file: missing keys {missing}.')
    num_joints = np.shape(data['kintree_table'])[1]
    expected = NUM_SKELETON_JOINTS[model_type]
    if num_joints != expected:
        looks = _JOINT_COUNT_NAMES.get(num_joints, 'another model')
        raise ValueError(f'{path} has {num_joints} joints but {title} needs {expected}: it looks like a {looks} '
                         f'file. Use the {title} file ({model_file_names(model_type)[0]} ...).')
    num_verts = np.shape(data['v_template'])[0]
    shapes = {
        'v_template': ((num_verts, 3), np.shape(data['v_template'])),
        'shapedirs': ((num_verts, 3), np.shape(data['shapedirs'])[:2]),
        'posedirs': ((num_verts, 3, 9 * (expected - 1)), np.shape(data['posedirs'])),
        'J_regressor': ((expected, num_verts), np.shape(data['J_regressor'])),
        'weights': ((num_verts, expected), np.shape(data['weights'])),
    }
    wrong = {key: f'{got} (expected {want})' for key, (want, got) in shapes.items() if tuple(got) != want}
    if wrong:
        raise ValueError(f'{path}: inconsistent {title} arrays: {wrong}.')
    max_id = max(smplx_vertex_ids(model_type).values())
    if num_verts <= max_id:
        raise ValueError(f'{path}: {num_verts} vertices, but smplx picks landmark vertex {max_id}; '
                         f'this is not a {title} mesh.')
