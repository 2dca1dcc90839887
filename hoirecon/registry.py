"""All registries of hoirecon, in one place.

Every mmengine root registry gets a ``hoirecon`` child (scope ``'hoirecon'``), so
configs with ``default_scope = 'hoirecon'`` resolve ``type='...'`` strings here
first and fall back to mmengine's own classes (``AdamW``, ``CheckpointHook``...).
Each child names the modules that define its classes in ``locations``: the
registry imports them lazily on first lookup, so no ``register_all_modules()``
call and no ``custom_imports`` are needed.

On top of the mmengine children, hoirecon has one registry per building block
of a reconstructor (body models, backbones, relation encoders, heads, losses,
refiners). They are independent roots with scope ``'hoirecon'`` so that each
category can be listed on its own (``python tools/misc/list_components.py``).
A reconstructor builds its parts from them, e.g. ``BACKBONES.build(backbone)``.

Declared one per line on purpose (not in a loop): grep and IDEs can find them.
A registry whose ``locations`` is empty has no hoirecon class yet and resolves
to mmengine's classes.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry, build_model_from_cfg

# ---------------------------------------------------------------- mmengine roots
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope='hoirecon', locations=['hoirecon.engine'])
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS, scope='hoirecon', locations=['hoirecon.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='hoirecon', locations=['hoirecon.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='hoirecon', locations=['hoirecon.engine'])
STRATEGIES = Registry('strategy', parent=MMENGINE_STRATEGIES, scope='hoirecon', locations=['hoirecon.engine'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='hoirecon', locations=['hoirecon.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='hoirecon', locations=['hoirecon.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='hoirecon', locations=['hoirecon.datasets'])
MODELS = Registry('model', parent=MMENGINE_MODELS, scope='hoirecon', locations=['hoirecon.models'])
MODEL_WRAPPERS = Registry('model wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='hoirecon', locations=['hoirecon.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope='hoirecon', locations=['hoirecon.models'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='hoirecon', locations=['hoirecon.engine'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='hoirecon', locations=['hoirecon.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope='hoirecon', locations=['hoirecon.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope='hoirecon', locations=['hoirecon.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='hoirecon', locations=['hoirecon.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='hoirecon', locations=['hoirecon.evaluation'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='hoirecon', locations=['hoirecon.models'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='hoirecon', locations=[])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='hoirecon', locations=[])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope='hoirecon', locations=['hoirecon.engine'])
INFERENCERS = Registry('inferencer', parent=MMENGINE_INFERENCERS, scope='hoirecon', locations=[])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope='hoirecon', locations=['hoirecon.datasets', 'hoirecon.engine'])

# ------------------------------------------------------ hoirecon building blocks
BODY_MODELS = Registry('body model', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])
BACKBONES = Registry('backbone', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])
RELATION_ENCODERS = Registry('relation encoder', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])
HEADS = Registry('head', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])
LOSSES = Registry('loss', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])
REFINERS = Registry('refiner', build_func=build_model_from_cfg, scope='hoirecon', locations=['hoirecon.models'])

#: The registries that ``tools/misc/list_components.py`` prints, by category.
CATEGORIES = {
    'body_models': BODY_MODELS,
    'backbones': BACKBONES,
    'relation_encoders': RELATION_ENCODERS,
    'heads': HEADS,
    'losses': LOSSES,
    'refiners': REFINERS,
    'models': MODELS,
    'datasets': DATASETS,
    'transforms': TRANSFORMS,
    'metrics': METRICS,
    'hooks': HOOKS,
    'optim_wrappers': OPTIM_WRAPPERS,
}
