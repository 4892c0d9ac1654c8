"""The scene-text quick start of ``tools/quickstart.py --task textdet``.

Writes a synthetic ICDAR 2015-like and a CTW1500-like set in the datasets'
raw layouts (``tools/dataset_converters/make_text.py``), converts them with
the shipped converters, trains the twins of ``configs/textdet/quickstart/``
on each, evaluates precision, recall and hmean (ICDAR protocol, ranked by
the model's score and by the class score) and segm mAP, draws predicted
polygons and writes ``summary.json``, whose ``config`` and ``checkpoint``
entries ``tools/test.py`` accepts.

``ms-rcnn-from-mask-rcnn`` (asked for by name) trains a MaskIoU head on
each set's frozen Mask R-CNN twin of the work dir, trained in the same run
or before, as ``tools/add_mask_score.py`` does (its config is written
beside its checkpoint). A run of it alone keeps the other entries of
``summary.json`` and their rows of ``vis/comparison.png``; any other run
replaces both.
"""
import importlib.util
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
                               format_table, pick_metrics, set_run, title_bar,
                               train_and_evaluate, write_comparison,
                               write_summary)

from ms_rcnn import register_all_modules
from ms_rcnn.data_preparation.synthetic_text import (ensure_text_dataset,
                                                     text_dataset_params,
                                                     text_dataset_record)
from ms_rcnn.evaluation.functional import RANKINGS
from ms_rcnn.structures import masks_to_polygons

CONFIG_DIR = osp.join(ROOT, 'configs', 'textdet', 'quickstart')
# Name in summary.json -> config file, for each synthetic set, in training
# order (ms-rcnn-from-mask-rcnn: the one that tools/add_mask_score.py builds
# from the Mask R-CNN's).
MODELS = {
    'ms-rcnn': 'ms-rcnn_r18_fpn_quickstart_{}.py',
    'mask-rcnn': 'mask-rcnn_r18_fpn_quickstart_{}.py',
    'ms-rcnn-from-mask-rcnn': 'mask-rcnn_r18_fpn_quickstart_{}.py',
}
# The second stage -> the model of the same set whose checkpoint it loads.
LOADS = {'ms-rcnn-from-mask-rcnn': 'mask-rcnn'}
TITLES = {
    'icdar2015': 'ICDAR 2015-like',
    'ctw1500': 'CTW1500-like',
    'ms-rcnn': 'MS R-CNN, mask score',
    'mask-rcnn': 'Mask R-CNN, class score',
    'ms-rcnn-from-mask-rcnn': 'Mask R-CNN + MaskIoU head, mask score',
}
# What each model's summary.json entry copies from the metrics of
# load_config's evaluators: entry -> metric.
SUMMARY_KEYS = {
    'precision': 'icdar/precision',
    'recall': 'icdar/recall',
    'hmean': 'icdar/hmean',
    'best_score_thr': 'icdar/best_score_thr',
    'hmean_by_class_score': 'icdar/hmean_cls',
    'segm_mAP': 'coco/segm_mAP',
    'bbox_mAP': 'coco/bbox_mAP',
}
# The same predictions thresholded by each ranking of HmeanIoUMetric, over
# the protocol's thresholds and over the sweep that reaches 0.99 (_wide).
SUMMARY_KEYS.update({
    f'hmean_{ranking}{suffix}': f'icdar/hmean_{ranking}{suffix}'
    for ranking in RANKINGS for suffix in ('', '_wide')
    if (ranking, suffix) != ('cls', '')  # hmean_by_class_score
})
SUMMARY_KEYS['hmean_upper'] = 'icdar/hmean_upper'
# segm mAP by each ranking, the rooms and the rank correlations.
SUMMARY_KEYS.update({
    key: f'calib/{key}'
    for key in ('segm_mAP_cls', 'segm_mAP_mask', 'segm_mAP_oracle',
                'segm_mAP_quality', 'segm_mAP_maskness',
                'segm_mAP_mask_maskness', 'segm_mAP_upper', 'room_quality',
                'room_class', 'room_duplicates', 'captured',
                'captured_upper', 'spearman_mask_score_iou',
                'spearman_cls_score_iou')
})
# Columns of the table printed at the end (train seconds last).
TABLE = ('precision', 'recall', 'hmean', 'hmean_by_class_score', 'segm_mAP',
         'train_seconds')


def convert(kind, raw_dir):
    """Run the shipped converter ``tools/dataset_converters/{kind}.py`` on
    ``raw_dir``, as a user would; it writes ``{kind}_{train,test}.json``
    there."""
    path = osp.join(ROOT, 'tools', 'dataset_converters', f'{kind}.py')
    spec = importlib.util.spec_from_file_location(f'{kind}_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([raw_dir, '--out-dir', raw_dir])


def load_config(path, raw_dir, kind, work_dir, seed, epochs=None):
    """A text quick-start config reading the converted set in ``raw_dir``,
    evaluated by hmean ranked by the model's score (the mask score for MS
    R-CNN) and by each of HmeanIoUMetric's rankings (``icdar/``), by bbox
    and segm mAP (``coco/``) and by the rankings, rooms and correlations
    of ``MaskIoUCalibrationMetric`` (``calib/``); otherwise as the shapes
    task's ``load_config``, the cosine decay ending with a shorter
    schedule."""
    cfg = Config.fromfile(path)
    root = raw_dir.rstrip('/') + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    ann_file = f'{root}{kind}_test.json'
    cfg.val_evaluator = [
        dict(cfg.val_evaluator, ann_file=ann_file, rankings=RANKINGS),
        dict(type='CocoMetric', ann_file=ann_file, metric=['bbox', 'segm']),
        dict(type='MaskIoUCalibrationMetric', ann_file=ann_file)
    ]
    cfg.test_evaluator = cfg.val_evaluator
    if epochs is not None:
        for scheduler in cfg.param_scheduler:
            if scheduler.get('end') == cfg.train_cfg.max_epochs:
                scheduler.update(end=epochs, T_max=epochs)
    # No fixed name: one visualizer per run, each logging to its work_dir.
    cfg.visualizer.pop('name', None)
    return set_run(cfg, work_dir, seed, epochs)


def summarize(runner, metrics, train_seconds, eval_seconds):
    """The summary.json entry of one text model: :data:`SUMMARY_KEYS`, the
    seconds, and ``config`` (as the run wrote it, with the data paths) and
    ``checkpoint``, relative to the repository root."""
    with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    config = osp.join(runner.work_dir, osp.basename(runner.cfg.filename))
    return dict(
        pick_metrics(metrics, SUMMARY_KEYS),
        train_seconds=round(train_seconds, 1),
        eval_seconds=round(eval_seconds, 1),
        config=osp.relpath(config, ROOT),
        checkpoint=osp.relpath(checkpoint, ROOT))


@torch.no_grad()
def draw_predictions(runner, title, indices, score_thr, scale=2):
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


def mask_score_stage(cfg, twin_dir, options=None):
    """The config of ``ms-rcnn-from-mask-rcnn``: ``cfg`` (the Mask R-CNN
    twin's, from :func:`load_config`) with a MaskIoU head trained on the
    frozen twin of ``twin_dir`` (its latest checkpoint), as
    ``tools/add_mask_score.py`` builds it, ``options`` merged; written
    to ``cfg.work_dir`` and read back, so that the summary's ``config`` is
    the file that ``tools/test.py`` takes."""
    checkpoint = find_latest_checkpoint(twin_dir)
    cfg = add_mask_score.mask_score_config(cfg, checkpoint, cfg.work_dir)
    if options:
        cfg.merge_from_dict(options)
    add_mask_score.check_checkpoint(cfg, checkpoint)
    # Evaluated once, after training, as the twins.
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
    return Config.fromfile(add_mask_score.write_config(cfg))


def check_twins_data(args, sizes):
    """Refuse, before anything is written, a run whose second stage loads a
    twin trained before (not in this run) while its --seed, --num-train,
    --num-test or --fonts would make another set than the generated one in
    --data-root, on which that twin was trained: the run would replace it
    and train the head on other images. (A folder without a generated set
    is left to the generator, which makes the same set from the same
    arguments.)"""
    for kind in args.datasets:
        raw_dir = osp.join(args.data_root, kind)
        wanted = text_dataset_params(
            kind, seed=args.seed, fonts=args.fonts, **sizes)
        held = text_dataset_record(raw_dir)
        if held is None or held == wanted:
            continue
        differ = ', '.join(f'{key} {held.get(key)} there, {value} asked'
                           for key, value in wanted.items()
                           if held.get(key) != value)
        raise SystemExit(
            f'error: {", ".join(sorted(LOADS))} trains on the data of the '
            f'twin it loads; {raw_dir} holds another set ({differ}): give '
            "the twins' run's --data-root, --seed, --num-train, --num-test "
            'and --fonts')


def run(args):
    """The scene-text quick start; returns the summary."""
    start = time.perf_counter()
    models = [name for name in MODELS if name in args.models]
    check_first_stages(
        models, LOADS,
        [osp.join(args.work_dir, kind) for kind in args.datasets])
    sizes = {
        k: getattr(args, k)
        for k in ('num_train', 'num_test') if getattr(args, k) is not None
    }
    if any(name in LOADS and LOADS[name] not in models for name in models):
        check_twins_data(args, sizes)
    register_all_modules(init_default_scope=False)
    vis_dir = osp.join(args.work_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    summary, rows = {}, {}
    for kind in args.datasets:
        raw_dir = osp.join(args.data_root, kind)
        try:
            ensure_text_dataset(
                raw_dir, kind, seed=args.seed, fonts=args.fonts, **sizes)
        except (FileNotFoundError, FileExistsError, ValueError) as e:
            raise SystemExit(f'error: {e}')
        convert(kind, raw_dir)
        summary[kind] = {}
        for name in models:
            # --epochs shortens the twins; the second stage trains half of
            # the config's schedule (2 of 5 epochs), as
            # tools/add_mask_score.py does.
            cfg = load_config(
                osp.join(CONFIG_DIR, MODELS[name].format(kind)), raw_dir,
                kind, osp.join(args.work_dir, kind, name), args.seed,
                None if name in LOADS else args.epochs)
            options = args.ms_rcnn_options or {}
            if name in LOADS:
                # The model it builds, not the twin's training options.
                cfg = mask_score_stage(
                    cfg, osp.join(args.work_dir, kind, LOADS[name]), {
                        k: v
                        for k, v in options.items() if k.startswith('model.')
                    })
            elif name == 'ms-rcnn' and options:
                cfg.merge_from_dict(options)
            runner, metrics, train_s, eval_s = train_and_evaluate(cfg)
            res = summary[kind][name] = summarize(runner, metrics, train_s,
                                                  eval_s)
            if name in LOADS:
                res['load_from'] = cfg.load_from
            if args.num_vis:
                indices = range(
                    min(args.num_vis, len(runner.val_dataloader.dataset)))
                row = rows[f'{kind}_{name}'] = draw_predictions(
                    runner, f'{TITLES[kind]}: {TITLES[name]}'
                    f' >= {res["best_score_thr"]:.2f}', indices,
                    res['best_score_thr'])
                cv2.imwrite(osp.join(vis_dir, f'{kind}_{name}.png'), row)
    # A set this run does not name keeps its entries as they are.
    merged = earlier_summary(args.work_dir, models, LOADS)
    for kind, entries in summary.items():
        merged.setdefault(kind, {}).update(entries)
    summary_file = write_summary(merged, args.work_dir)
    write_comparison(
        vis_dir,
        [f'{kind}_{name}' for kind in merged for name in merged[kind]], rows,
        [f'{kind}_{name}' for kind in args.datasets for name in models])

    table = []
    for kind, models in summary.items():
        for name, res in models.items():
            table.append([kind, name] + [res[k] for k in TABLE[:-1]] +
                         [round(res['train_seconds'])])
    lines = format_table(('dataset', 'model') + TABLE, table)
    print_log(
        '\n'.join(lines) + '\n(hmean ranks by the mask score for ms-rcnn '
        'and ms-rcnn-from-mask-rcnn, by the class score for mask-rcnn)\n'
        f'summary:     {summary_file}\n'
        f'pictures:    {vis_dir}\n'
        f'data:        {args.data_root}\n'
        f'total time:  {time.perf_counter() - start:.0f} s',
        logger='current')
    return summary
