"""Train some parameters of a loaded model and keep the rest as loaded.

A MaskIoU head trained alone on a loaded model (on a frozen Mask R-CNN,
``tools/add_mask_score.py``; after MS R-CNN's joint training,
``configs/quickstart/ms-rcnn_quickstart_maskiou-ft.py``) loads the model
and trains the head alone::

    load_from = 'work_dirs/ms-rcnn_quickstart/epoch_8.pth'
    custom_hooks = [dict(type='TrainOnlyHook',
                         prefixes=('roi_head.mask_iou_head', ))]

The other parameters get no gradient (``requires_grad=False``): the
backward pass stops at the trained part's inputs, and the optimizer, which
skips parameters without a gradient, leaves them as loaded (weight decay
included). Normalisation statistics are not parameters: keep them with
the backbone's ``norm_eval=True`` (mmdet's ResNet) or norms without
running statistics (GN).

Several processes: the Runner wraps the model in
``MMDistributedDataParallel`` before any hook runs, and DDP then waits for
the gradients of every parameter it was given; the frozen ones have none,
so DDP must be told (``find_unused_parameters=True``), or the hook refuses.
"""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ms_rcnn.registry import HOOKS


def under(name: str, prefix: str) -> bool:
    """Whether parameter ``name`` lies under the module path ``prefix``."""
    return name == prefix or name.startswith(prefix + '.')


@HOOKS.register_module()
class TrainOnlyHook(Hook):
    """Before training, turn off the gradient of every parameter outside
    the modules named by ``prefixes``.

    Args:
        prefixes (Sequence[str]): Module paths of the part to train, e.g.
            ``('roi_head.mask_iou_head', )``.

    Raises (before the first step):
        ValueError: The run loaded no checkpoint, or one lacking a frozen
            parameter (it would stay at its initialisation); it resumed a
            checkpoint that another stage saved; a prefix names no
            trainable parameter; or DDP wraps the model without
            ``find_unused_parameters``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, prefixes: Sequence[str]) -> None:
        if isinstance(prefixes, str):
            prefixes = (prefixes, )
        self.prefixes = tuple(prefixes)
        self.loaded_shapes = None  # name -> shape of the loaded state
        self.loaded_stamp = None  # the prefixes of the stage that saved it

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        self.loaded_shapes = {
            name[len('module.'):] if name.startswith('module.') else name:
            tuple(value.shape)
            for name, value in state.items()
        }
        self.loaded_stamp = checkpoint.get('meta', {}).get('train_only')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # A resume continues this stage only from its own checkpoints.
        checkpoint.setdefault('meta', {})['train_only'] = list(self.prefixes)

    def before_train(self, runner) -> None:
        if self.loaded_shapes is None:
            raise ValueError(
                'TrainOnlyHook trains only '
                f'{", ".join(self.prefixes)} and keeps the other '
                'parameters as loaded, but the run loads no checkpoint: '
                'set load_from (e.g. --cfg-options load_from=CKPT) or '
                '--resume this stage')
        # mmengine's Runner.train loads or resumes before this hook runs; a
        # resume restores the loop's iteration, a load_from does not.
        if runner.iter > 0 and self.loaded_stamp != list(self.prefixes):
            raise ValueError(
                'TrainOnlyHook: the resumed checkpoint was not saved by this '
                'stage (it would continue another schedule); load an '
                'earlier stage with load_from, resume only this stage\'s '
                'own checkpoints')
        model = runner.model
        if is_model_wrapper(model):
            if not getattr(model, 'find_unused_parameters', True):
                raise ValueError(
                    'TrainOnlyHook: DistributedDataParallel would wait for '
                    'the frozen parameters\' gradients; set '
                    'model_wrapper_cfg=dict(type=\'MMDistributedDataParallel'
                    '\', find_unused_parameters=True)')
            model = model.module
        trained = {prefix: 0 for prefix in self.prefixes}
        frozen = []
        for name, param in model.named_parameters():
            inside = [p for p in self.prefixes if under(name, p)]
            if not inside:
                param.requires_grad_(False)
                frozen.append((name, tuple(param.shape)))
            for prefix in inside:
                trained[prefix] += param.numel() if param.requires_grad else 0
        missing = [prefix for prefix, count in trained.items() if not count]
        if missing:
            raise ValueError(
                f'TrainOnlyHook: {type(model).__name__} has no trainable '
                f'parameter under {", ".join(missing)}')
        # mmengine loads non-strictly: a frozen parameter that the
        # checkpoint lacks would stay at its initialisation.
        unloaded = [
            name for name, shape in frozen
            if self.loaded_shapes.get(name) != shape
        ]
        if unloaded:
            raise ValueError(
                f'TrainOnlyHook: the loaded checkpoint lacks {len(unloaded)} '
                'frozen parameter(s), or has them in another shape, e.g. '
                f'{", ".join(unloaded[:3])}; they would stay at their '
                'initialisation')
        runner.logger.info(
            'TrainOnlyHook: training '
            f'{sum(p.numel() for p in model.parameters() if p.requires_grad)}'
            f' parameters ({", ".join(self.prefixes)}); the others keep '
            'their loaded values')
