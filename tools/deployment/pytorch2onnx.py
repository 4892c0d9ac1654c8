"""Export a detector to ONNX, optionally checking it against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \\
        --output model.onnx [--shape H W] [--verify IMG ...]

CHECKPOINT may be ``none``: the config's random initialisation (seeded;
no pretrained weights are downloaded), to check the export itself. With
``--verify``, PyTorch and onnxruntime detect the images and one JSON line
gives the largest differences
(:func:`ms_rcnn.deploy.verify.largest_differences`); the exit status is 1
when they are beyond the tolerances.
"""
import argparse
import json
import sys

import torch
from mmdet.apis import inference_detector
from mmengine.config import DictAction

from ms_rcnn.deploy import (OnnxMaskScoringDetector, build_model,
                            export_model, largest_differences, load_config)


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
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. model.test_cfg.rcnn.score_thr=0')
    return parser.parse_args(argv)


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
    if not args.verify:
        return 0
    detector = OnnxMaskScoringDetector(args.output, cfg)
    with torch.no_grad():
        expected = inference_detector(model, args.verify)
    got = detector.detect(args.verify)
    differences = largest_differences(expected, got)
    print(json.dumps(differences))
    return 0 if differences['within_tolerances'] else 1


if __name__ == '__main__':
    sys.exit(main())
