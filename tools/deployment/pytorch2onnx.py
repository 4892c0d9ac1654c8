"""Export a detector to ONNX, optionally checking it against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \\
        --output model.onnx [--shape H W] [--verify IMG ...] \\
        [--quantize int8 --calib IMG ...] [--cfg-options KEY=VALUE ...]

CHECKPOINT may be ``none``: the config's random initialisation (seeded;
no pretrained weights are downloaded), to check the export itself. The
file records the settings it froze (:mod:`ms_rcnn.deploy.settings`):
``--cfg-options`` that change them change the file.

With ``--verify``, PyTorch and onnxruntime detect the images and one JSON
line gives the largest differences
(:func:`ms_rcnn.deploy.verify.largest_differences`) and, for each image
whose detections differ, the score gaps at the cuts of the rankings
(:func:`ms_rcnn.deploy.verify.tie_report`). The exit status is 1 when they
are beyond the tolerances, and when no image has a detection (nothing was
compared).

``--quantize int8`` also writes ``<output>.int8.onnx``
(:func:`ms_rcnn.deploy.quantize_int8`, calibrated on the ``--calib``
images); ``--verify`` then adds its differences from PyTorch under
``int8``, for information: the exit status judges the float file.
"""
import argparse
import json
import sys

import torch
from mmengine.config import DictAction

from ms_rcnn.deploy import (OnnxMaskScoringDetector, build_model,
                            export_model, largest_differences, load_config,
                            quantize_int8)
from ms_rcnn.deploy.detector import detect
from ms_rcnn.deploy.graph import build_graph
from ms_rcnn.deploy.verify import tie_reports

NO_DETECTION = (
    '--verify: no image has a detection, in PyTorch or onnxruntime, so '
    'nothing was compared. Random weights often score every box below '
    'score_thr: pass a trained checkpoint, or export with '
    '--cfg-options model.test_cfg.rcnn.score_thr=0 (the file then keeps '
    'score_thr=0).')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export a detector to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file, or none')
    parser.add_argument('--output', required=True, help='.onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=(800, 1344),
        metavar=('H', 'W'),
        help='size of the example image the export traces with (any size '
        'runs afterwards)')
    parser.add_argument(
        '--verify', nargs='+', metavar='IMG', help='images to compare on')
    parser.add_argument(
        '--quantize',
        choices=['int8'],
        help='also write an int8 copy, <output>.int8.onnx')
    parser.add_argument(
        '--calib',
        nargs='+',
        metavar='IMG',
        help='calibration images of --quantize (a few dozen of the data)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. model.test_cfg.rcnn.score_thr=0')
    args = parser.parse_args(argv)
    if args.quantize and not args.calib:
        parser.error('--quantize int8 needs --calib IMG ...')
    if args.calib and not args.quantize:
        parser.error('--calib is for --quantize int8')
    return args


def int8_path(output: str) -> str:
    """``model.onnx`` -> ``model.int8.onnx``."""
    stem = output[:-len('.onnx')] if output.endswith('.onnx') else output
    return stem + '.int8.onnx'


def verify(model, cfg, onnx_file: str, imgs: list, int8_file=None) -> int:
    """Print the differences of ``onnx_file`` from ``model`` on ``imgs``
    (paths, or arrays when no image differs); the exit status."""
    detector = OnnxMaskScoringDetector(onnx_file, cfg)
    with torch.no_grad():
        expected = detect(model, imgs)
    got = detector.detect(imgs)
    differences = largest_differences(expected, got)
    if differences['differing']:
        differences['ties'] = tie_reports(
            build_graph(model), detector,
            [imgs[i] for i in differences['differing']])
    if int8_file is not None:
        differences['int8'] = largest_differences(
            expected,
            OnnxMaskScoringDetector(int8_file, cfg).detect(imgs))
    print(json.dumps(differences))
    if differences['detections'] == 0 and not any(
            len(result.pred_instances) for result in got):
        print(NO_DETECTION, file=sys.stderr)
        return 1
    return 0 if differences['within_tolerances'] else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    checkpoint = None if args.checkpoint.lower() == 'none' else \
        args.checkpoint
    torch.manual_seed(0)
    model = build_model(cfg, checkpoint)
    export_model(model, args.output, args.shape)
    print(f'wrote {args.output}', file=sys.stderr)
    int8_file = None
    if args.quantize:
        int8_file = quantize_int8(args.output, int8_path(args.output), cfg,
                                  args.calib)
        print(f'wrote {int8_file}', file=sys.stderr)
    if not args.verify:
        return 0
    return verify(model, cfg, args.output, args.verify, int8_file)


if __name__ == '__main__':
    sys.exit(main())
