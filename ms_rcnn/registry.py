"""ms_rcnn's registries: children of mmdet's, scope ``ms_rcnn``.

Configs of this project set ``default_scope = 'ms_rcnn'``. mmengine then looks
up every kind the Runner or an inferencer builds in the ``ms_rcnn`` child of
that kind's registry tree and falls back to the parents (mmdet, then mmengine)
for names we do not define. A kind without an ``ms_rcnn`` child would make
mmengine fall back to the *root* registry with a warning, where mmcv's
``LoadAnnotations`` shadows mmdet's, so every kind gets a child here.

``locations`` are imported lazily on the first lookup. A parent's names are
read without importing the parent's locations, so each child lists mmdet's
(or mmengine's) locations for its kind as well as ours. Every child has
locations: mmengine would otherwise call ``ms_rcnn.utils.register_all_modules``
on the first lookup, and utilities sit below the modules they would import.

Importing this module registers nothing and changes nothing else;
:func:`ms_rcnn.register_all_modules` does what has to be done once.
"""
from mmdet import registry as mmdet_registry
from mmengine import registry as mmengine_registry
from mmengine.registry import Registry

SCOPE = 'ms_rcnn'


def _child(name, parent, *locations):
    return Registry(
        name, parent=parent, scope=SCOPE, locations=list(locations))


RUNNERS = _child('runner', mmdet_registry.RUNNERS, 'mmdet.engine.runner')
RUNNER_CONSTRUCTORS = _child('runner constructor',
                             mmdet_registry.RUNNER_CONSTRUCTORS,
                             'mmdet.engine.runner')
LOOPS = _child('loop', mmdet_registry.LOOPS, 'mmdet.engine.runner')
HOOKS = _child('hook', mmdet_registry.HOOKS, 'mmdet.engine.hooks',
               'ms_rcnn.engine.hooks')
STRATEGIES = _child('strategy', mmengine_registry.STRATEGIES,
                    'mmengine._strategy')

DATASETS = _child('dataset', mmdet_registry.DATASETS, 'mmdet.datasets',
                  'ms_rcnn.data_checks')
DATA_SAMPLERS = _child('data sampler', mmdet_registry.DATA_SAMPLERS,
                       'mmdet.datasets.samplers')
TRANSFORMS = _child('transform', mmdet_registry.TRANSFORMS,
                    'mmdet.datasets.transforms', 'ms_rcnn.data_checks')
FUNCTIONS = _child('function', mmengine_registry.FUNCTIONS, 'mmengine.dataset')

# ms_rcnn.deploy.detector: OnnxMaskScoringDetector, found by name without
# register_all_modules importing deploy code. mmengine imports every
# location on a registry's first lookup, so training imports that module
# too; it imports its config side and onnxruntime when a detector is built.
MODELS = _child('model', mmdet_registry.MODELS, 'mmdet.models',
                'ms_rcnn.models', 'ms_rcnn.deploy.detector')
MODEL_WRAPPERS = _child('model_wrapper', mmdet_registry.MODEL_WRAPPERS,
                        'mmdet.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             mmdet_registry.WEIGHT_INITIALIZERS,
                             'mmdet.models')
TASK_UTILS = _child('task util', mmdet_registry.TASK_UTILS, 'mmdet.models',
                    'ms_rcnn.models')

OPTIMIZERS = _child('optimizer', mmdet_registry.OPTIMIZERS,
                    'mmdet.engine.optimizers')
OPTIM_WRAPPERS = _child('optim_wrapper', mmdet_registry.OPTIM_WRAPPERS,
                        'mmdet.engine.optimizers')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmdet.engine.optimizers')
PARAM_SCHEDULERS = _child('parameter scheduler',
                          mmdet_registry.PARAM_SCHEDULERS,
                          'mmdet.engine.schedulers')

METRICS = _child('metric', mmdet_registry.METRICS, 'mmdet.evaluation',
                 'ms_rcnn.evaluation')
EVALUATOR = _child('evaluator', mmdet_registry.EVALUATOR, 'mmdet.evaluation',
                   'ms_rcnn.evaluation')

VISUALIZERS = _child('visualizer', mmdet_registry.VISUALIZERS,
                     'mmdet.visualization', 'ms_rcnn.visualization')
VISBACKENDS = _child('vis_backend', mmdet_registry.VISBACKENDS,
                     'mmdet.visualization')
LOG_PROCESSORS = _child('log_processor', mmdet_registry.LOG_PROCESSORS,
                        'mmdet.engine')
# Nothing registers inferencers (they are built directly); the location only
# keeps mmengine from falling back to ms_rcnn.utils.
INFERENCERS = _child('inferencer', mmengine_registry.INFERENCERS, 'mmdet.apis')
