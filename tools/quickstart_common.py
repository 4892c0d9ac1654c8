"""What both quick starts of ``tools/quickstart.py`` use: the run
arguments, a config pointed at a work dir and a seed, training then
evaluation, the summary entry and its file, a titled row of pictures.

The projects' quick starts (``projects/*/tools/run_quickstart.py``) use
``add_run_args`` too.
"""
import argparse
import json
import math
import os
import os.path as osp
import time

import cv2
import numpy as np
from mmengine.runner import Runner, find_latest_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def positive_int(text):
    """``argparse`` type of a count that must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value}: must be >= 1')
    return value


def add_run_args(parser,
                 work_dir,
                 data_root='data/shapes',
                 epochs_help='train this many epochs instead of the '
                 'configs\' schedule (a shorter run for a smoke test; '
                 'results will be lower)'):
    """``--work-dir``, ``--data-root``, ``--seed`` and ``--epochs``: the
    arguments of every script that trains quick-start twins."""
    parser.add_argument('--work-dir', default=work_dir)
    parser.add_argument(
        '--data-root',
        default=data_root,
        help='where the dataset is written (kept when it exists)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--epochs', type=positive_int, help=epochs_help)


def set_run(cfg, work_dir, seed, epochs=None):
    """Point ``cfg`` at ``work_dir``, seed it with ``seed`` and, if given,
    train ``epochs`` epochs (the checkpoint at the end); it is evaluated
    once, after training and timed apart from it."""
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
        cfg.default_hooks.checkpoint.interval = epochs
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
    return cfg


def train_and_evaluate(cfg):
    """Train, then evaluate on the validation split.

    Returns:
        tuple[Runner, dict, float, float]: the runner (holding the trained
        model), the validation metrics, training and evaluation seconds.
    """
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.val()
    return runner, metrics, train_seconds, time.perf_counter() - start


def pick_metrics(metrics, keys):
    """``{name: metrics[key]}`` for each ``name: key`` of ``keys``: a
    summary entry. CocoMetric reports nothing when a model detects nothing:
    a missing ``coco/`` key is an AP of 0. NaN (e.g. no mask score) becomes
    None, which JSON can hold."""
    out = {}
    for name, key in keys.items():
        if key.startswith('coco/'):
            value = metrics.get(key, 0.0)
        else:
            value = metrics[key]
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[name] = value
    return out


def check_first_stages(models, loads, model_dirs):
    """Refuse, before anything is written, a second stage of ``models``
    (``loads``: second stage -> the model it loads) whose first stage is
    neither in ``models`` nor trained in each folder of ``model_dirs``."""
    for name, first in loads.items():
        if name not in models or first in models:
            continue
        for model_dir in model_dirs:
            ckpt = find_latest_checkpoint(osp.join(model_dir, first))
            if ckpt is None or not osp.exists(ckpt):
                raise SystemExit(
                    f'error: {name} loads the {first} model of {model_dir}, '
                    f'which has none: add {first} to --models')


def read_summary(work_dir):
    """``work_dir/summary.json``, or an empty summary where there is
    none."""
    path = osp.join(work_dir, 'summary.json')
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def earlier_summary(work_dir, models, loads):
    """``work_dir/summary.json``, whose entries this run's replace, when
    the run trains only second stages (``loads``' keys: their first stages
    are in the file); an empty summary otherwise."""
    if any(name not in loads for name in models):
        return {}
    return read_summary(work_dir)


def write_summary(summary, work_dir):
    """Write ``summary`` to ``work_dir/summary.json``; returns the path."""
    path = osp.join(work_dir, 'summary.json')
    with open(path, 'w') as f:
        json.dump(summary, f, indent=2)
    return path


def format_table(header, rows):
    """Lines of a ``' | '``-separated table: floats with 3 decimals."""
    lines = [' | '.join(header)]
    for row in rows:
        cells = [f'{v:.3f}' if isinstance(v, float) else f'{v}' for v in row]
        lines.append(' | '.join(cells))
    return lines


def title_bar(text, width, scale=0.5):
    """(24, width, 3) uint8 white bar with ``text`` in black."""
    bar = np.full((24, width, 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def write_comparison(vis_dir, names, rows, trained):
    """Write ``vis_dir/comparison.png``: one titled row per picture of
    ``names``, in that order.

    Args:
        vis_dir (str): the run's picture folder, where each row is also
            ``{name}.png``.
        names (list[str]): the rows' file names (without ``.png``) of the
            models of the run's summary: this run's and, when it trains
            second stages alone, those kept from the earlier run.
        rows (dict[str, np.ndarray]): name -> (H, W, 3) uint8 BGR row drawn
            by this run (empty when it drew nothing).
        trained (list[str]): the names of the models this run trained.

    A model this run trained without drawing loses its earlier row (it
    showed the model it replaced), and a run that drew nothing removes the
    picture. A model this run did not train keeps the row an earlier run
    drew where it is as wide as this run's rows (drawn of as many images);
    otherwise it is left out of the picture.
    """
    def png(name):
        return osp.join(vis_dir, f'{name}.png')

    for name in trained:
        if name not in rows and osp.exists(png(name)):
            os.remove(png(name))
    if not rows:
        if osp.exists(png('comparison')):
            os.remove(png('comparison'))
        return
    width = next(iter(rows.values())).shape[1]
    picture = []
    for name in names:
        if name in rows:
            picture.append(rows[name])
        elif name not in trained and osp.exists(png(name)):
            row = cv2.imread(png(name))
            if row.shape[1] == width:
                picture.append(row)
    cv2.imwrite(png('comparison'), np.concatenate(picture))
