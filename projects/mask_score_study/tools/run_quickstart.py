"""The study's MaskIoU head options on the quick start's generated shapes.

Trains the quick-start configs of ``projects/mask_score_study/configs``
(the core quick start's model, data, schedule and seed; each changes the
MaskIoU head's training) with the functions of ``tools/quickstart.py``,
evaluates each on the validation split and writes ``summary.json`` in the
same format. Run from the repository root::

    python projects/mask_score_study/tools/run_quickstart.py \\
        --seed 0 --work-dir work_dirs/qs_s0 --data-root data/shapes_s0 \\
        --models ms-rcnn-detached

``--models`` trains a subset; the summary keeps the entries of earlier runs
in the same work dir, so the models can be trained one at a time, and
beside those of ``tools/quickstart.py`` (the paper's MS R-CNN and its
Mask R-CNN twin) when run after it (which rewrites the file).
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
# The configs import projects.mask_score_study.*; tools/ is not a package.
sys.path[:0] = [ROOT, osp.join(ROOT, 'tools')]

import quickstart  # noqa: E402  (tools/quickstart.py)
from mmengine.config import DictAction  # noqa: E402

CONFIG_DIR = osp.join(ROOT, 'projects', 'mask_score_study', 'configs')
# Name in summary.json -> config file.
MODELS = {
    'ms-rcnn-study': 'ms-rcnn_quickstart_maskiou-study.py',
    'ms-rcnn-all-pred': 'ms-rcnn_quickstart_maskiou-all-pred.py',
    'ms-rcnn-detached': 'ms-rcnn_quickstart_maskiou-detached.py',
    'ms-rcnn-detections': 'ms-rcnn_quickstart_maskiou-detections.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    quickstart.add_run_args(parser, 'work_dirs/mask_score_study')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS),
        default=['ms-rcnn-detached', 'ms-rcnn-detections'],
        help='ms-rcnn-study: the paper\'s training with this project\'s '
        'heads (their defaults), the base of the others')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of every model\'s config, KEY=VALUE as in '
        'tools/train.py, e.g. '
        'model.roi_head.mask_iou_head.score_exponents="(1.0,0.75)"')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return quickstart.train_configs(args, CONFIG_DIR, MODELS, args.cfg_options)


if __name__ == '__main__':
    main()
