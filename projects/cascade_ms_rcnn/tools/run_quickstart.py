"""Cascade Mask R-CNN with vs without a MaskIoU head on generated shapes.

Trains the quick-start twins of ``projects/cascade_ms_rcnn/configs`` (same
model, data, schedule and seed; one has a MaskIoU head) with the functions
of ``tools/quickstart.py``, evaluates each on the validation split and
writes ``summary.json`` in the same format. Run from the repository root::

    python projects/cascade_ms_rcnn/tools/run_quickstart.py \\
        --work-dir work_dirs/cascade_quickstart --data-root data/shapes

``--models`` trains a subset; the summary keeps the entries of earlier runs
in the same work dir, so the models can be trained one at a time.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
# The configs import projects.cascade_ms_rcnn.*; tools/ is not a package.
sys.path[:0] = [ROOT, osp.join(ROOT, 'tools')]

import quickstart  # noqa: E402  (tools/quickstart.py)

CONFIG_DIR = osp.join(ROOT, 'projects', 'cascade_ms_rcnn', 'configs')
# Name in summary.json -> config file.
MODELS = {
    'cascade-ms-rcnn': 'cascade-ms-rcnn_quickstart.py',
    'cascade-mask-rcnn': 'cascade-mask-rcnn_quickstart.py',
    'htc-ms': 'htc-ms_quickstart.py',
    'htc': 'htc_quickstart.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    quickstart.add_run_args(parser, 'work_dirs/cascade_quickstart')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS),
        default=['cascade-ms-rcnn', 'cascade-mask-rcnn'])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return quickstart.train_configs(args, CONFIG_DIR, MODELS)


if __name__ == '__main__':
    main()
