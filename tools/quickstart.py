"""Quick start: MS R-CNN against Mask R-CNN on generated shapes, on CPU.

Generates the shapes dataset, trains the two twin configs of
``configs/quickstart/`` (the same model, schedule and seed; one has a MaskIoU
head), evaluates both on the validation split, draws predictions on a few
validation images and writes ``summary.json``::

    python tools/quickstart.py --work-dir work_dirs/quickstart \\
        --data-root data/shapes --seed 0

In ``summary.json`` the Mask R-CNN entry's ``spearman_mask_score_iou``
equals its ``spearman_cls_score_iou``: Mask R-CNN has no mask score and
ranks its masks by the class score.
"""
import argparse
import json
import math
import os
import os.path as osp
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.runner import Runner

from ms_rcnn import register_all_modules
from ms_rcnn.visualization import MaskScoringVisualizer
from ms_rcnn.data_preparation.shapes import ensure_shapes_dataset

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'quickstart')
# Name in summary.json -> config file.
MODELS = {
    'ms-rcnn': osp.join(CONFIG_DIR, 'ms-rcnn_quickstart.py'),
    'mask-rcnn': osp.join(CONFIG_DIR, 'mask-rcnn_quickstart.py'),
}
# The title of each model's row in vis/comparison.png.
TITLES = {
    'ms-rcnn': 'MS R-CNN (class: class score, mask: mask score)',
    'mask-rcnn': 'Mask R-CNN (class: class score)',
}
# Metrics copied to summary.json: CocoMetric's under coco/, the mask-score
# calibration under calib/.
COCO_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')
CALIB_KEYS = ('spearman_mask_score_iou', 'spearman_cls_score_iou',
              'pearson_mask_score_iou', 'pearson_cls_score_iou',
              'mae_pred_iou', 'segm_mAP_by_cls_score',
              'segm_mAP_by_mask_score', 'num_preds')


def add_run_args(parser, work_dir):
    """``--work-dir``, ``--data-root``, ``--seed`` and ``--epochs``: the
    arguments of every script that trains quick-start twins."""
    parser.add_argument('--work-dir', default=work_dir)
    parser.add_argument(
        '--data-root',
        default='data/shapes',
        help='where the shapes dataset is written (kept when it exists)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--epochs',
        type=int,
        help='train this many epochs instead of the configs\' schedule '
        '(a shorter run for a smoke test; results will be lower)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_run_args(parser, 'work_dirs/quickstart')
    parser.add_argument(
        '--num-vis', type=int, default=4, help='validation images to draw')
    parser.add_argument(
        '--vis-score-thr',
        type=float,
        default=0.5,
        help='class score below which detections are not drawn')
    args = parser.parse_args(argv)
    if args.num_vis < 0:
        parser.error('--num-vis must be >= 0')
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    return args


def load_config(path, data_root, work_dir, seed, epochs=None):
    """A quick-start config reading the dataset at ``data_root``, writing
    to ``work_dir``, seeded with ``seed`` and, if given, trained ``epochs``
    epochs."""
    cfg = Config.fromfile(path)
    root = data_root.rstrip('/') + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    for evaluators in (cfg.val_evaluator, cfg.test_evaluator):
        for evaluator in evaluators:
            evaluator.ann_file = root + 'annotations/val.json'
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
        cfg.default_hooks.checkpoint.interval = epochs
    # Evaluated once, after training and timed apart from it.
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


def summarize(metrics, train_seconds, eval_seconds):
    """The summary.json entry of one model: NaN (no mask score) as null."""
    # CocoMetric reports nothing when a model detects nothing: AP 0.
    out = {k: metrics.get(f'coco/{k}', 0.0) for k in COCO_KEYS}
    out.update({k: metrics[f'calib/{k}'] for k in CALIB_KEYS})
    out = {
        k: None if isinstance(v, float) and math.isnan(v) else v
        for k, v in out.items()
    }
    out.update(
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(eval_seconds, 1))
    return out


@torch.no_grad()
def visualize(runner, name, indices, vis_dir, score_thr, scale=3):
    """Draw the predictions of ``runner``'s model on validation images with
    :class:`MaskScoringVisualizer` (``class: score``, and ``mask: mask
    score`` for MS R-CNN), upscaled ``scale`` times so that the text is
    legible on 128 px images.

    Returns:
        np.ndarray: (H', W', 3) uint8 BGR row of the drawn images under a
        title naming the model, also written to ``vis_dir/{name}.png``.
    """
    dataset = runner.val_dataloader.dataset
    visualizer = MaskScoringVisualizer(name=f'quickstart_{name}')
    visualizer.dataset_meta = dataset.metainfo
    runner.model.eval()
    drawn = []
    for i in indices:
        sample = runner.model.test_step(pseudo_collate([dataset[i]]))[0]
        pred = sample.pred_instances.cpu()
        pred = pred[pred.scores >= score_thr]
        pred.bboxes = pred.bboxes * scale
        pred.masks = pred.masks.repeat_interleave(scale, 1).repeat_interleave(
            scale, 2)
        sample.pred_instances = pred
        img = cv2.imread(sample.img_path)[..., ::-1]  # the visualizer: RGB
        img = cv2.resize(
            img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        visualizer.add_datasample(
            name, img, sample, draw_gt=False, pred_score_thr=0)
        drawn.append(visualizer.get_image()[..., ::-1])
    row = np.concatenate(drawn, axis=1)
    title = np.full((24, row.shape[1], 3), 255, np.uint8)
    cv2.putText(title, TITLES[name], (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                (0, 0, 0), 1, cv2.LINE_AA)
    row = np.concatenate([title, row])
    cv2.imwrite(osp.join(vis_dir, f'{name}.png'), row)
    return row


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    register_all_modules(init_default_scope=False)
    ensure_shapes_dataset(args.data_root, seed=args.seed)
    vis_dir = osp.join(args.work_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)

    summary, rows = {}, []
    for name, config in MODELS.items():
        cfg = load_config(config, args.data_root,
                          osp.join(args.work_dir,
                                   name), args.seed, args.epochs)
        runner, metrics, train_s, eval_s = train_and_evaluate(cfg)
        summary[name] = summarize(metrics, train_s, eval_s)
        indices = range(min(args.num_vis, len(runner.val_dataloader.dataset)))
        if args.num_vis:
            rows.append(
                visualize(runner, name, indices, vis_dir,
                          args.vis_score_thr))
    # One picture to compare: a titled row of validation images per model.
    if args.num_vis:
        cv2.imwrite(osp.join(vis_dir, 'comparison.png'), np.concatenate(rows))

    summary_file = osp.join(args.work_dir, 'summary.json')
    with open(summary_file, 'w') as f:
        json.dump(summary, f, indent=2)

    header = ('model', 'bbox_mAP', 'segm_mAP', 'spearman_mask_score_iou',
              'spearman_cls_score_iou', 'train_seconds')
    lines = [' | '.join(header)]
    for name, res in summary.items():
        lines.append(' | '.join([name] + [
            f'{res[k]:.3f}' if isinstance(res[k], float) else f'{res[k]}'
            for k in header[1:]
        ]))
    print_log(
        '\n'.join(lines) + '\n(mask-rcnn has no mask score: its '
        'spearman_mask_score_iou is that of the class score)\n'
        f'summary:     {summary_file}\n'
        f'pictures:    {vis_dir}\n'
        f'logs, ckpts: {", ".join(osp.join(args.work_dir, n) for n in MODELS)}'
        f'\ndata:        {args.data_root}\n'
        f'total time:  {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary


if __name__ == '__main__':
    main()
