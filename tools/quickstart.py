"""Quick start: MS R-CNN against Mask R-CNN on CPU, on generated shapes
(default) or on synthetic scene text (``--task textdet``).

Each task generates its data, trains the twin configs (the same model,
schedule and seed; one has a MaskIoU head), evaluates them, draws
predictions and writes ``summary.json`` in its work dir. The shapes task
also trains a MaskIoU head on the frozen Mask R-CNN twin
(``ms-rcnn-from-mask-rcnn``, ``tools/add_mask_score.py``, on the twin's
16 best detections an image of 100 proposals; the text task, on all of
its detections, when ``--models`` names it) and can add a second stage of
MS R-CNN's head, ``--models ms-rcnn ms-rcnn-maskiou-ft``::

    python tools/quickstart.py --work-dir work_dirs/quickstart \\
        --data-root data/shapes --seed 0
    python tools/quickstart.py --task textdet

The shapes task is ``quickstart_shapes.py`` (``configs/quickstart/``), the
text task ``quickstart_textdet.py`` (``configs/textdet/quickstart/``: a
synthetic ICDAR 2015-like and CTW1500-like set, hmean ranked by the mask
score and by the class score); what both use is in
``quickstart_common.py``.
"""
import argparse

import quickstart_shapes
import quickstart_textdet
from mmengine.config import DictAction
# Used by projects/*/tools/run_quickstart.py.
from quickstart_common import add_run_args
from quickstart_shapes import train_configs

from ms_rcnn.data_preparation.text_scenes import KINDS as TEXT_KINDS

__all__ = ['parse_args', 'main', 'add_run_args', 'train_configs']
TASKS = {'shapes': quickstart_shapes, 'textdet': quickstart_textdet}
TASK_DEFAULTS = {
    'shapes': dict(work_dir='work_dirs/quickstart', data_root='data/shapes'),
    'textdet': dict(
        work_dir='work_dirs/quickstart_textdet', data_root='data/synthtext'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--task',
        choices=tuple(TASKS),
        default='shapes',
        help='generated shapes (default) or synthetic scene text')
    # Defaults depend on the task: see TASK_DEFAULTS.
    add_run_args(
        parser,
        None,
        data_root=None,
        epochs_help='train the twins this many epochs instead of their '
        'configs\' schedule (a shorter run for a smoke test; results will '
        'be lower); a second stage keeps its schedule')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=tuple(quickstart_shapes.MODELS),
        help='which models to train, in this order: ms-rcnn, mask-rcnn, '
        'ms-rcnn-from-mask-rcnn, ms-rcnn-maskiou-ft (default: the first '
        'three for shapes, the twins for text). The second stages load a '
        'model of --work-dir: ms-rcnn-from-mask-rcnn trains a MaskIoU head '
        'on the frozen mask-rcnn (tools/add_mask_score.py), '
        'ms-rcnn-maskiou-ft (shapes only) the MaskIoU head of ms-rcnn 4 '
        'more epochs alone')
    parser.add_argument(
        '--ms-rcnn-options',
        nargs='+',
        action=DictAction,
        help='overrides of the MS R-CNN config only, KEY=VALUE as '
        '--cfg-options of tools/train.py, e.g. '
        'model.roi_head.mask_iou_head.target_thr=0.5 (its model.* keys '
        'also reach the second stages, applied over the model each one '
        'loads)')
    parser.add_argument(
        '--num-vis', type=int, default=4, help='validation images to draw')
    parser.add_argument(
        '--vis-score-thr',
        type=float,
        default=0.5,
        help='shapes: class score below which detections are not drawn '
        '(textdet draws the polygons its hmean counted)')
    text = parser.add_argument_group('textdet')
    text.add_argument(
        '--datasets',
        nargs='+',
        choices=TEXT_KINDS,
        default=list(TEXT_KINDS),
        help='the synthetic sets to generate and train on')
    text.add_argument(
        '--num-train',
        type=int,
        help='training images of each set (default: the generator\'s)')
    text.add_argument(
        '--num-test',
        type=int,
        help='test images of each set (default: the generator\'s)')
    text.add_argument(
        '--fonts',
        nargs='+',
        help='TrueType files to draw the text with (default: the DejaVu '
        'fonts installed with matplotlib)')
    args = parser.parse_args(argv)
    for name, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.models is None:
        args.models = list(quickstart_shapes.DEFAULT_MODELS if args.task ==
                           'shapes' else quickstart_shapes.TWINS)
    if args.task != 'shapes' and set(args.models) - set(
            quickstart_textdet.MODELS):
        parser.error('--models: the text quick start trains '
                     f'{", ".join(quickstart_textdet.MODELS)} only')
    if args.num_vis < 0:
        parser.error('--num-vis must be >= 0')
    for name in ('num_train', 'num_test'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def main(argv=None):
    """Run the task of ``argv``; returns its summary."""
    args = parse_args(argv)
    return TASKS[args.task].run(args)


if __name__ == '__main__':
    main()
