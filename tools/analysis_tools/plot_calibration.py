"""Reliability plot of mask scores from a dumped prediction file.

Example::

    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    python tools/analysis_tools/plot_calibration.py results.pkl \\
        data/shapes/annotations/val.json --out calibration.png

Several prediction files of the same test set (``a.pkl b.pkl ANN --labels A
B``) give one row of panels each, to compare models.

Left: detections binned by predicted IoU (``mask_score / score``), mean actual
mask IoU per bin against the diagonal of perfect calibration. Middle and
right: class score and mask score of every detection against its actual IoU
(see ``ms_rcnn.evaluation.functional.calibration`` for how it is matched).
"""
import argparse
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')  # no display needed; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import mmengine  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

from ms_rcnn.evaluation.functional import reliability_curve  # noqa: E402
from ms_rcnn.evaluation.metrics import MaskIoUCalibrationMetric  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'pkl', nargs='+', help='predictions written by test.py --out')
    parser.add_argument('ann_file', help='COCO annotations of the test set')
    parser.add_argument(
        '--labels', nargs='+', help='a title for each prediction file')
    parser.add_argument('--out', default='calibration.png', help='PNG path')
    parser.add_argument('--num-bins', type=int, default=10)
    parser.add_argument('--score-thr', type=float, default=0.05)
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class names of the labels, if the test config used a subset '
        'or another order than the categories of ann_file')
    return parser.parse_args(argv)


def match_predictions(results, ann_file, score_thr=0.05, classes=None):
    """Actual IoU of each dumped detection.

    Args:
        results (list[dict]): as mmdet's ``DumpDetResults`` writes: each with
            ``img_id`` and ``pred_instances`` holding ``scores``, ``labels``,
            ``masks`` (RLE dicts) and, for MS R-CNN, ``mask_scores``.
        ann_file (str): COCO annotation file.

    Returns:
        dict: ``scores``, ``mask_scores``, ``ious``, ``has_mask_score``, each
        (M,) over the M detections with score >= ``score_thr``.
    """
    metric = MaskIoUCalibrationMetric(ann_file, score_thr=score_thr)
    if classes:
        metric.dataset_meta = dict(classes=classes)
    metric.process({}, results)
    return metric.match(metric.results)


def plot_calibration(matched, out, num_bins=10, labels=None):
    """Draw three panels per model into ``out``, one row each.

    Args:
        matched (dict | list[dict]): :func:`match_predictions` of one model
            or of several.
        labels (list[str], optional): row titles.

    Returns:
        dict | list[dict]: the summary numbers of each model.
    """
    rows = [matched] if isinstance(matched, dict) else matched
    fig, axes = plt.subplots(
        len(rows), 3, figsize=(15, 5 * len(rows)), squeeze=False,
        constrained_layout=True)
    stats = [
        _plot_row(m, row_axes, num_bins, label)
        for m, row_axes, label in zip(rows, axes, labels or [None] * len(rows))
    ]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return stats[0] if isinstance(matched, dict) else stats


def _plot_row(matched, axes, num_bins, label):
    """The reliability panel and the two score panels of one model."""
    ious = matched['ious']
    has_ms = matched['has_mask_score']
    stats = MaskIoUCalibrationMetric.score_statistics(matched)

    ax = axes[0]
    ax.plot([0, 1], [0, 1], 'k--', lw=1, label='perfect calibration')
    if has_ms.any():
        mean_pred, mean_actual, counts = reliability_curve(
            matched['pred_ious'][has_ms], ious[has_ms], num_bins)
        filled = counts > 0
        ax.plot(
            mean_pred[filled],
            mean_actual[filled],
            'o-',
            color='C1',
            label='MaskIoU head')
        for x, y, n in zip(mean_pred[filled], mean_actual[filled],
                           counts[filled]):
            ax.annotate(
                str(n), (x, y),
                textcoords='offset points',
                xytext=(4, -10),
                fontsize=7)
        stats['reliability'] = dict(
            mean_pred=mean_pred, mean_actual=mean_actual, counts=counts)
    else:
        ax.text(
            0.5,
            0.5,
            'no mask_scores in the predictions',
            ha='center',
            va='center')
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel='predicted IoU (mask / cls score)',
        ylabel='mean actual mask IoU',
        title=(f'{label}: ' if label else '') + 'reliability (count per bin)')
    ax.legend(loc='upper left')

    for ax, key, name, color in ((axes[1], 'scores', 'cls', 'C0'),
                                 (axes[2], 'mask_scores', 'mask', 'C1')):
        ax.scatter(matched[key], ious, s=6, alpha=0.5, color=color)
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel=f'{name} score',
            ylabel='actual mask IoU',
            title=f'{name} score: Pearson '
            f'{stats[f"pearson_{name}_score_iou"]:.3f}, Spearman '
            f'{stats[f"spearman_{name}_score_iou"]:.3f}')
    if not has_ms.any():
        axes[2].set_title('mask score = cls score (no mask_scores)')
    return stats


def main(argv=None):
    args = parse_args(argv)
    if args.labels and len(args.labels) != len(args.pkl):
        raise SystemExit(f'error: {len(args.pkl)} prediction files but '
                         f'{len(args.labels)} labels')
    matched = [
        match_predictions(
            mmengine.load(pkl), args.ann_file, args.score_thr, args.classes)
        for pkl in args.pkl
    ]
    stats = plot_calibration(matched, args.out, args.num_bins, args.labels)
    for pkl, row in zip(args.pkl, stats):
        print_log(
            f'{pkl}: ' + ', '.join(f'{k}={v:.4f}'
                                   for k, v in row.items()
                                   if isinstance(v, float)) +
            f', num_preds={row["num_preds"]} -> {args.out}',
            logger='current')
    return stats[0] if len(stats) == 1 else stats


if __name__ == '__main__':
    main()
