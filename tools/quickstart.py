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

``--task textdet`` is the scene-text quick start: it writes a synthetic
ICDAR 2015-like and a CTW1500-like set in the datasets' raw layouts
(``tools/dataset_converters/make_text.py``), converts them with the shipped
converters, trains the twins of ``configs/textdet/quickstart/`` on each,
evaluates precision, recall and hmean (ICDAR protocol, ranked by the mask
score, and by the class score) and segm mAP, draws predicted polygons and
writes ``work_dirs/quickstart_textdet/summary.json``::

    python tools/quickstart.py --task textdet
"""
import argparse
import importlib.util
import json
import math
import os
import os.path as osp
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.runner import Runner

from ms_rcnn import register_all_modules
from ms_rcnn.data_preparation.shapes import ensure_shapes_dataset
from ms_rcnn.data_preparation.synthetic_text import ensure_text_dataset
from ms_rcnn.data_preparation.text_scenes import KINDS as TEXT_KINDS
from ms_rcnn.structures import masks_to_polygons
from ms_rcnn.visualization import MaskScoringVisualizer

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs', 'quickstart')
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
TEXT_CONFIG_DIR = osp.join(ROOT, 'configs', 'textdet', 'quickstart')
# Name in summary.json -> config file, for each synthetic set.
TEXT_MODELS = {
    'ms-rcnn': 'ms-rcnn_r18_fpn_quickstart_{}.py',
    'mask-rcnn': 'mask-rcnn_r18_fpn_quickstart_{}.py',
}
TEXT_TITLES = {
    'icdar2015': 'ICDAR 2015-like',
    'ctw1500': 'CTW1500-like',
    'ms-rcnn': 'MS R-CNN, mask score',
    'mask-rcnn': 'Mask R-CNN, class score',
}
TASK_DEFAULTS = {
    'shapes': dict(work_dir='work_dirs/quickstart', data_root='data/shapes'),
    'textdet': dict(
        work_dir='work_dirs/quickstart_textdet', data_root='data/synthtext'),
}
COCO_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')
CALIB_KEYS = ('spearman_mask_score_iou', 'spearman_cls_score_iou',
              'pearson_mask_score_iou', 'pearson_cls_score_iou',
              'mae_pred_iou', 'segm_mAP_by_cls_score',
              'segm_mAP_by_mask_score', 'num_preds')


def add_run_args(parser, work_dir, data_root='data/shapes'):
    """``--work-dir``, ``--data-root``, ``--seed`` and ``--epochs``: the
    arguments of every script that trains quick-start twins."""
    parser.add_argument('--work-dir', default=work_dir)
    parser.add_argument(
        '--data-root',
        default=data_root,
        help='where the dataset is written (kept when it exists)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--epochs',
        type=int,
        help='train this many epochs instead of the configs\' schedule '
        '(a shorter run for a smoke test; results will be lower)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--task',
        choices=('shapes', 'textdet'),
        default='shapes',
        help='generated shapes (default) or synthetic scene text')
    # Defaults depend on the task: see TASK_DEFAULTS.
    add_run_args(parser, None, data_root=None)
    parser.add_argument(
        '--models',
        nargs='+',
        choices=tuple(MODELS),
        default=list(MODELS),
        help='which of the twins to train (default: both)')
    parser.add_argument(
        '--ms-rcnn-options',
        nargs='+',
        action=DictAction,
        help='overrides of the MS R-CNN config only, KEY=VALUE as '
        '--cfg-options of tools/train.py, e.g. '
        'model.roi_head.mask_iou_head.detach_inputs=False')
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
    if args.num_vis < 0:
        parser.error('--num-vis must be >= 0')
    for name in ('epochs', 'num_train', 'num_test'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
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
    if args.task == 'textdet':
        return run_textdet(args)
    return run_shapes(args)


def run_shapes(args):
    """The shapes quick start; returns the summary."""
    start = time.perf_counter()
    register_all_modules(init_default_scope=False)
    ensure_shapes_dataset(args.data_root, seed=args.seed)
    vis_dir = osp.join(args.work_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)

    summary, rows = {}, []
    for name in args.models:
        cfg = load_config(MODELS[name], args.data_root,
                          osp.join(args.work_dir,
                                   name), args.seed, args.epochs)
        if name == 'ms-rcnn' and args.ms_rcnn_options:
            cfg.merge_from_dict(args.ms_rcnn_options)
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
        'logs, ckpts: '
        f'{", ".join(osp.join(args.work_dir, n) for n in summary)}\n'
        f'data:        {args.data_root}\n'
        f'total time:  {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary


def convert_text(kind, raw_dir):
    """Run the shipped converter ``tools/dataset_converters/{kind}.py`` on
    ``raw_dir``, as a user would; it writes ``{kind}_{train,test}.json``
    there."""
    path = osp.join(ROOT, 'tools', 'dataset_converters', f'{kind}.py')
    spec = importlib.util.spec_from_file_location(f'{kind}_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([raw_dir, '--out-dir', raw_dir])


def load_text_config(path, raw_dir, kind, work_dir, seed, epochs=None):
    """A text quick-start config reading the converted set in ``raw_dir``,
    evaluated by hmean ranked by the model's score (the mask score for MS
    R-CNN), by hmean ranked by the class score (``icdar_cls/``) and by
    segm mAP; otherwise as :func:`load_config`."""
    cfg = Config.fromfile(path)
    root = raw_dir.rstrip('/') + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    hmean = dict(cfg.val_evaluator, ann_file=f'{root}{kind}_test.json')
    cfg.val_evaluator = [
        hmean,
        dict(hmean, score_key='scores', prefix='icdar_cls'),
        dict(type='CocoMetric', ann_file=hmean['ann_file'], metric='segm')
    ]
    cfg.test_evaluator = cfg.val_evaluator
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    if epochs is not None:
        # The cosine decay follows the shorter schedule.
        for scheduler in cfg.param_scheduler:
            if scheduler.get('end') == cfg.train_cfg.max_epochs:
                scheduler.update(end=epochs, T_max=epochs)
        cfg.train_cfg.max_epochs = epochs
        cfg.default_hooks.checkpoint.interval = epochs
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
    # No fixed name: one visualizer per run, each logging to its work_dir.
    cfg.visualizer.pop('name', None)
    return cfg


def summarize_text(runner, metrics, train_seconds, eval_seconds):
    """The summary.json entry of one text model; ``config`` (as the run
    wrote it, with the data paths) and ``checkpoint`` are relative to the
    repository root."""
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    config = osp.join(runner.work_dir, osp.basename(runner.cfg.filename))
    return dict(
        precision=metrics['icdar/precision'],
        recall=metrics['icdar/recall'],
        hmean=metrics['icdar/hmean'],
        best_score_thr=metrics['icdar/best_score_thr'],
        hmean_by_class_score=metrics['icdar_cls/hmean'],
        # CocoMetric reports nothing when a model detects nothing: AP 0.
        segm_mAP=metrics.get('coco/segm_mAP', 0.0),
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(eval_seconds, 1),
        config=osp.relpath(config, ROOT),
        checkpoint=osp.relpath(checkpoint, ROOT))


def title_bar(text, width):
    """(24, width, 3) uint8 white bar with ``text`` in black."""
    bar = np.full((24, width, 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return bar


@torch.no_grad()
def draw_text_predictions(runner, title, indices, score_thr, scale=2):
    """Test images (upscaled ``scale`` times) with the ground truth (thin:
    blue, grey for do-not-care) and the predicted polygons that the hmean
    counted (green: score >= ``score_thr``, the score the metric ranks
    by), under ``title``.

    Returns:
        np.ndarray: (24 + H', W', 3) uint8 BGR row.
    """
    dataset = runner.val_dataloader.dataset
    hmean = runner.val_evaluator.metrics[0]
    runner.model.eval()
    drawn = []
    for i in indices:
        sample = runner.model.test_step(pseudo_collate([dataset[i]]))[0]
        pred = sample.pred_instances.cpu()
        scores = pred.get('mask_scores', pred.scores).numpy()
        polygons = pred.get('polygons')
        if polygons is None:
            polygons = masks_to_polygons(pred.masks, hmean.polygon_mode)
        img = cv2.imread(sample.img_path)
        img = cv2.resize(
            img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        gt_parts, gt_ignore = hmean.gts[sample.img_id]
        for parts, ignore in zip(gt_parts, gt_ignore):
            for part in parts:
                pts = np.round(np.reshape(part, (-1, 2)) * scale)
                cv2.polylines(img, [pts.astype(np.int32)], True,
                              (160, 160, 160) if ignore else (255, 0, 0), 1)
        for polygon, score in zip(polygons, scores):
            if score < score_thr or len(polygon) < 6:
                continue
            pts = np.round(np.reshape(polygon, (-1, 2)) * scale)
            pts = pts.astype(np.int32)
            cv2.polylines(img, [pts], True, (0, 200, 0), 2)
            cv2.putText(img, f'{score:.2f}', tuple(int(v) for v in pts[0]),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 200, 0), 1,
                        cv2.LINE_AA)
        drawn.append(img)
    row = np.concatenate(drawn, axis=1)
    return np.concatenate([title_bar(title, row.shape[1]), row])


def run_textdet(args):
    """The scene-text quick start; returns the summary."""
    start = time.perf_counter()
    register_all_modules(init_default_scope=False)
    vis_dir = osp.join(args.work_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    sizes = {
        k: getattr(args, k)
        for k in ('num_train', 'num_test') if getattr(args, k) is not None
    }
    summary, rows = {}, []
    for kind in args.datasets:
        raw_dir = osp.join(args.data_root, kind)
        try:
            ensure_text_dataset(
                raw_dir, kind, seed=args.seed, fonts=args.fonts, **sizes)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f'error: {e}')
        convert_text(kind, raw_dir)
        summary[kind] = {}
        for name in args.models:
            config = TEXT_MODELS[name]
            cfg = load_text_config(
                osp.join(TEXT_CONFIG_DIR, config.format(kind)), raw_dir,
                kind, osp.join(args.work_dir, kind, name), args.seed,
                args.epochs)
            if name == 'ms-rcnn' and args.ms_rcnn_options:
                cfg.merge_from_dict(args.ms_rcnn_options)
            runner, metrics, train_s, eval_s = train_and_evaluate(cfg)
            res = summarize_text(runner, metrics, train_s, eval_s)
            summary[kind][name] = res
            if args.num_vis:
                indices = range(
                    min(args.num_vis, len(runner.val_dataloader.dataset)))
                rows.append(
                    draw_text_predictions(
                        runner, f'{TEXT_TITLES[kind]}: {TEXT_TITLES[name]}'
                        f' >= {res["best_score_thr"]:.2f}', indices,
                        res['best_score_thr']))
                cv2.imwrite(osp.join(vis_dir, f'{kind}_{name}.png'),
                            rows[-1])
    if rows:
        cv2.imwrite(osp.join(vis_dir, 'comparison.png'), np.concatenate(rows))
    summary_file = osp.join(args.work_dir, 'summary.json')
    with open(summary_file, 'w') as f:
        json.dump(summary, f, indent=2)

    header = ('precision', 'recall', 'hmean', 'hmean_by_class_score',
              'segm_mAP', 'train_seconds')
    lines = [' | '.join(('dataset', 'model') + header)]
    for kind, models in summary.items():
        for name, res in models.items():
            lines.append(' | '.join(
                [kind, name] + [f'{res[k]:.3f}' for k in header[:-1]] +
                [f'{res["train_seconds"]:.0f}']))
    print_log(
        '\n'.join(lines) + '\n(hmean ranks by the mask score for ms-rcnn, '
        'by the class score for mask-rcnn)\n'
        f'summary:     {summary_file}\n'
        f'pictures:    {vis_dir}\n'
        f'data:        {args.data_root}\n'
        f'total time:  {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary


if __name__ == '__main__':
    main()
