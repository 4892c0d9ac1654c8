"""The shapes quick start of ``tools/quickstart.py`` (the default task).

Generates the shapes dataset, trains the two twin configs of
``configs/quickstart/`` (the same model, schedule and seed; one has a
MaskIoU head) and a MaskIoU head on the frozen Mask R-CNN twin
(``ms-rcnn-from-mask-rcnn``), evaluates them on the validation split,
draws predictions on a few validation images and writes
``summary.json``. In it the Mask R-CNN
entry's ``spearman_mask_score_iou`` equals its ``spearman_cls_score_iou``:
Mask R-CNN has no mask score and ranks its masks by the class score.

``ms-rcnn-maskiou-ft`` (asked for by name) then trains the MaskIoU head of
the ``ms-rcnn`` model in the work dir (trained in the same run or before)
alone for 4 more epochs and is evaluated the same way; its entry names
the checkpoint it loaded. A run of second stages alone keeps the other
entries of ``summary.json`` and their rows of ``vis/comparison.png``; any
other run replaces both.
"""
import json
import os
import os.path as osp
import time

import add_mask_score
import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint
from quickstart_common import (ROOT, check_first_stages, earlier_summary,
                               format_table, pick_metrics, read_summary,
                               set_run, title_bar, train_and_evaluate,
                               write_comparison, write_summary)

from ms_rcnn import register_all_modules
from ms_rcnn.data_preparation.shapes import ensure_shapes_dataset
from ms_rcnn.visualization import MaskScoringVisualizer

CONFIG_DIR = osp.join(ROOT, 'configs', 'quickstart')
# Name in summary.json -> config file (ms-rcnn-from-mask-rcnn: the one that
# tools/add_mask_score.py builds from the Mask R-CNN's).
# In training order: a second stage loads the first's checkpoint.
MODELS = {
    'ms-rcnn': osp.join(CONFIG_DIR, 'ms-rcnn_quickstart.py'),
    'mask-rcnn': osp.join(CONFIG_DIR, 'mask-rcnn_quickstart.py'),
    'ms-rcnn-from-mask-rcnn': osp.join(CONFIG_DIR, 'mask-rcnn_quickstart.py'),
    'ms-rcnn-maskiou-ft': osp.join(CONFIG_DIR,
                                   'ms-rcnn_quickstart_maskiou-ft.py'),
}
TWINS = ('ms-rcnn', 'mask-rcnn')
# What `make demo` trains.
DEFAULT_MODELS = ('ms-rcnn', 'mask-rcnn', 'ms-rcnn-from-mask-rcnn')
# Second stage -> the model whose checkpoint (in the same work dir) it loads.
LOADS = {
    'ms-rcnn-from-mask-rcnn': 'mask-rcnn',
    'ms-rcnn-maskiou-ft': 'ms-rcnn'
}
# The detections the MaskIoU head on the frozen twin learns from: of the
# twin's test-time detections (50 to 59 an image on seeds 0-2) the 16 of
# highest class score, found among 100 proposals instead of 300. On seeds
# 0-2 the head took 0.65 / 0.66 / 0.95 of the quality room (on all of them
# 0.63 / 0.72 / 0.78: less on seed 1), and in make demo its training took
# 0.37x the twin's instead of about 1x (docs/user_guides/add_mask_score.md).
HEAD_DETECTIONS = dict(max_per_img=16, rpn=dict(max_per_img=100))
# The title of each model's row in vis/comparison.png.
TITLES = {
    'ms-rcnn': 'MS R-CNN (class: class score, mask: mask score)',
    'mask-rcnn': 'Mask R-CNN (class: class score)',
    'ms-rcnn-from-mask-rcnn': 'Mask R-CNN + MaskIoU head trained on it '
    '(mask: mask score)',
    'ms-rcnn-maskiou-ft': 'MS R-CNN, MaskIoU head +4 epochs alone',
}
# Metrics copied to summary.json: CocoMetric's under coco/, the mask-score
# calibration under calib/.
COCO_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')
CALIB_KEYS = ('spearman_mask_score_iou', 'spearman_cls_score_iou',
              'pearson_mask_score_iou', 'pearson_cls_score_iou',
              'mae_pred_iou', 'segm_mAP_cls', 'segm_mAP_mask',
              'segm_mAP_oracle', 'segm_mAP_quality', 'segm_mAP_maskness',
              'segm_mAP_mask_maskness', 'segm_mAP_upper', 'room_quality',
              'room_class', 'room_duplicates', 'captured', 'captured_upper',
              'num_preds', 'num_on_crowd')
SUMMARY_KEYS = {k: f'coco/{k}' for k in COCO_KEYS}
SUMMARY_KEYS.update({k: f'calib/{k}' for k in CALIB_KEYS})
# Columns of the table printed at the end.
TABLE = ('bbox_mAP', 'segm_mAP', 'spearman_mask_score_iou',
         'spearman_cls_score_iou', 'train_seconds')


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
    return set_run(cfg, work_dir, seed, epochs)


def summarize(metrics, train_seconds, eval_seconds):
    """The summary.json entry of one model: NaN (no mask score) as null."""
    return dict(
        pick_metrics(metrics, SUMMARY_KEYS),
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(eval_seconds, 1))


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
    row = np.concatenate([title_bar(TITLES[name], row.shape[1], 0.55), row])
    cv2.imwrite(osp.join(vis_dir, f'{name}.png'), row)
    return row


def train_configs(args, config_dir, configs, cfg_options=None):
    """Train and evaluate the shapes configs that ``args.models`` names,
    for the projects' quick starts (``projects/*/tools/run_quickstart.py``).

    Args:
        args (argparse.Namespace): ``add_run_args``' arguments and
            ``models``.
        config_dir (str): the folder of the configs.
        configs (dict[str, str]): model name -> config file in it.
        cfg_options (dict, optional): overrides of every model's config.

    Returns:
        dict: ``work_dir/summary.json`` after the run: the entries of
        earlier runs in the work dir, each model's replaced when it is
        trained (and written after each), with its seed and epochs.
    """
    start = time.perf_counter()
    register_all_modules(init_default_scope=False)
    ensure_shapes_dataset(args.data_root, seed=args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    summary = read_summary(args.work_dir)
    for name in args.models:
        cfg = load_config(
            osp.join(config_dir, configs[name]), args.data_root,
            osp.join(args.work_dir, name), args.seed, args.epochs)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        _, metrics, train_s, eval_s = train_and_evaluate(cfg)
        summary[name] = summarize(metrics, train_s, eval_s)
        summary[name].update(seed=args.seed, epochs=cfg.train_cfg.max_epochs)
        write_summary(summary, args.work_dir)
    print_log(
        json.dumps({n: summary[n] for n in args.models}, indent=2) +
        f'\nsummary: {osp.join(args.work_dir, "summary.json")}\n'
        f'total time: {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary


def run(args):
    """The shapes quick start; returns the summary."""
    start = time.perf_counter()
    models = [name for name in MODELS if name in args.models]
    check_first_stages(models, LOADS, [args.work_dir])
    register_all_modules(init_default_scope=False)
    ensure_shapes_dataset(args.data_root, seed=args.seed)
    vis_dir = osp.join(args.work_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)

    summary, rows = {}, {}
    for name in models:
        # --epochs shortens the twins; a second stage keeps its schedule.
        work_dir = osp.join(args.work_dir, name)
        cfg = load_config(MODELS[name], args.data_root, work_dir, args.seed,
                          None if name in LOADS else args.epochs)
        options = args.ms_rcnn_options or {}
        if name in LOADS:
            cfg.load_from = find_latest_checkpoint(
                osp.join(args.work_dir, LOADS[name]))
            # The model it loads, not the first stage's training options.
            options = {k: v for k, v in options.items()
                       if k.startswith('model.')}
        if name == 'ms-rcnn-from-mask-rcnn':
            cfg = add_mask_score.mask_score_config(cfg, cfg.load_from,
                                                   work_dir)
            add_mask_score.check_checkpoint(cfg, cfg.load_from)
            cfg.model.train_cfg.rcnn.mask_iou_detections = HEAD_DETECTIONS
            # Evaluated once, after training, as the others.
            cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
        if name.startswith('ms-rcnn') and options:
            cfg.merge_from_dict(options)
        runner, metrics, train_s, eval_s = train_and_evaluate(cfg)
        summary[name] = summarize(metrics, train_s, eval_s)
        if name in LOADS:
            summary[name]['load_from'] = cfg.load_from
        if args.num_vis:
            indices = range(
                min(args.num_vis, len(runner.val_dataloader.dataset)))
            rows[name] = visualize(runner, name, indices, vis_dir,
                                   args.vis_score_thr)
    merged = dict(earlier_summary(args.work_dir, models, LOADS), **summary)
    summary_file = write_summary(merged, args.work_dir)
    # One picture to compare: a titled row of validation images per model.
    write_comparison(vis_dir, list(merged), rows, models)

    lines = format_table(
        ('model', ) + TABLE,
        [[name] + [res[k] for k in TABLE] for name, res in summary.items()])
    print_log(
        '\n'.join(lines) + '\n(mask-rcnn has no mask score: its '
        'spearman_mask_score_iou is that of the class score)\n'
        f'summary:     {summary_file}\n'
        f'pictures:    {vis_dir}\n'
        'logs, ckpts: '
        f'{", ".join(osp.join(args.work_dir, n) for n in summary)}\n'
        f'data:        {args.data_root}\n'
        f'total time:  {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary
