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
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
# The configs import projects.cascade_ms_rcnn.*; tools/ is not a package.
sys.path[:0] = [ROOT, osp.join(ROOT, 'tools')]

import quickstart  # noqa: E402  (tools/quickstart.py)
from mmengine.logging import print_log  # noqa: E402

from ms_rcnn import register_all_modules  # noqa: E402
from ms_rcnn.data_preparation.shapes import ensure_shapes_dataset  # noqa: E402

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
    start = time.perf_counter()
    register_all_modules(init_default_scope=False)
    ensure_shapes_dataset(args.data_root, seed=args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    summary_file = osp.join(args.work_dir, 'summary.json')
    summary = {}
    if osp.exists(summary_file):
        with open(summary_file) as f:
            summary = json.load(f)
    for name in args.models:
        cfg = quickstart.load_config(
            osp.join(CONFIG_DIR, MODELS[name]), args.data_root,
            osp.join(args.work_dir, name), args.seed, args.epochs)
        _, metrics, train_s, eval_s = quickstart.train_and_evaluate(cfg)
        summary[name] = quickstart.summarize(metrics, train_s, eval_s)
        summary[name].update(
            seed=args.seed, epochs=cfg.train_cfg.max_epochs)
        with open(summary_file, 'w') as f:
            json.dump(summary, f, indent=2)
    print_log(
        json.dumps({n: summary[n]
                    for n in args.models}, indent=2) +
        f'\nsummary: {summary_file}\n'
        f'total time: {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary


if __name__ == '__main__':
    main()
