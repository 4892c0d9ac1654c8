"""Fit the exponent of the mask score on the training set.

MS R-CNN scores a mask ``score * IoU``, the class score times the IoU that
the MaskIoU head predicts. ``StudyMaskIoUHead(score_exponents=(a, b))``
makes it ``score ** a * IoU ** b``; only ``b / a`` changes the ranking, so
``a`` stays 1 and this script picks ``b``: it predicts the *training* images
with the test pipeline (never the test set, which would tune on what is
measured), ranks the same masks by ``score * IoU ** b`` for each ``b`` of a
grid, and prints the COCO segm mAP of each as one JSON line, with the best
``b`` and the option that applies it to a config of this project, whose
MaskIoU head is a ``StudyMaskIoUHead`` (for the quick start,
``configs/ms-rcnn_quickstart_maskiou-study.py``; a checkpoint of the core's
config loads in it). From the repository root, with the root on
``PYTHONPATH`` (the project's configs import ``projects.*``)::

    python projects/mask_score_study/tools/fit_mask_score.py CONFIG CKPT
    python tools/test.py STUDY_CONFIG CKPT --cfg-options \\
        model.roi_head.mask_iou_head.score_exponents="(1.0,B)"

``b = 0`` ranks by the class score alone, ``b = 1`` is the paper's product.
"""
import argparse
import copy
import json
import os.path as osp
import sys

import numpy as np
import torch
from mmdet.apis import init_detector
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmengine.utils import track_iter_progress

from ms_rcnn import register_all_modules
from ms_rcnn.evaluation.functional import coco_segm_ap
from ms_rcnn.evaluation.metrics import MaskIoUCalibrationMetric

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
# The project's configs import projects.mask_score_study.*.
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

EXPONENTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--exponents',
        nargs='+',
        type=float,
        default=EXPONENTS,
        help='values of b to try (default: %(default)s)')
    parser.add_argument(
        '--num-images',
        type=int,
        help='predict only the first N training images (default: all)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, as in tools/test.py')
    args = parser.parse_args(argv)
    if any(b < 0 for b in args.exponents):
        parser.error('--exponents must be >= 0')
    return args


def training_set_loader_cfg(cfg: Config) -> Config:
    """The test dataloader of ``cfg`` with the training dataset in it
    (its images and annotations, the test pipeline, test mode)."""
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    if 'ann_file' not in dataset or 'pipeline' not in dataset:
        raise ValueError(
            'fit_mask_score: train_dataloader.dataset must be a dataset with '
            f'ann_file and pipeline, not a {dataset.get("type")} wrapper')
    dataset.pipeline = cfg.test_dataloader.dataset.pipeline
    dataset.test_mode = True
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.dataset = dataset
    return loader


def fit_exponent(matched: dict, metric: MaskIoUCalibrationMetric,
                 img_ids: list, exponents) -> dict:
    """COCO segm mAP of the matched detections ranked by
    ``score * pred_iou ** b`` for each ``b``.

    Args:
        matched (dict): :meth:`MaskIoUCalibrationMetric.match`'s output of
            a model with mask scores.
        metric (MaskIoUCalibrationMetric): holds the ground truth.
        img_ids (list[int]): the evaluated images.
        exponents (Sequence[float]): values of ``b``.

    Returns:
        dict: ``segm_mAP`` ({b: mAP}) and ``best`` (the smallest ``b`` of
        highest mAP).
    """
    if not matched['has_mask_score'].any():
        raise ValueError('fit_mask_score: the model gives no mask_scores')
    pred_ious = np.clip(np.nan_to_num(matched['pred_ious']), 0, 1)
    results = {}
    for b in exponents:
        dets = [
            dict(det, score=float(score)) for det, score in zip(
                matched['dets'], matched['scores'] * pred_ious**b)
        ]
        results[float(b)] = coco_segm_ap(metric._coco, dets, img_ids,
                                         metric._cat_ids())
    best = max(results, key=lambda b: (results[b], -b))
    return dict(segm_mAP=results, best=best)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    iou_head = cfg.model.get('roi_head', {}).get('mask_iou_head')
    if iou_head is None:
        raise SystemExit(f'error: {args.config} has no MaskIoU head')
    # The fit reads the predicted IoU back as mask score / class score:
    # predict with the paper's product, whatever the config applies.
    iou_head.overwrite_scores = False
    if 'score_exponents' in iou_head:
        iou_head.score_exponents = (1.0, 1.0)
    model = init_detector(cfg, args.checkpoint, device=args.device)
    model.eval()
    loader_cfg = training_set_loader_cfg(cfg)
    if args.num_images:
        loader_cfg.dataset.indices = args.num_images
    loader = Runner.build_dataloader(loader_cfg)
    dataset = loader.dataset
    # The dataset has joined data_root and ann_file.
    metric = MaskIoUCalibrationMetric(dataset.ann_file)
    metric.dataset_meta = dataset.metainfo
    img_ids = []
    with torch.no_grad():
        for batch in track_iter_progress((loader, len(loader))):
            outputs = model.test_step(batch)
            metric.process(batch, [out.to_dict() for out in outputs])
            img_ids += [out.img_id for out in outputs]
    fit = fit_exponent(metric.match(metric.results), metric, img_ids,
                       args.exponents)
    fit.update(
        images=len(img_ids),
        cfg_options='model.roi_head.mask_iou_head.score_exponents='
        f'"(1.0,{fit["best"]})"')
    print(json.dumps(fit))
    return fit


if __name__ == '__main__':
    main()
