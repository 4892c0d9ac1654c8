"""Time onnxruntime against PyTorch eager on the CPU, in the same run.

    python tools/analysis_tools/benchmark_deploy.py \\
        [--config configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py] \\
        [--shape 800 1216] [--repeats 5] [--threads 2] \\
        [--int8 [--calib IMG ...]]

The config's model with its random initialisation, unless --checkpoint,
is exported to a temporary file; both run ``test_step`` on the same random
image (preprocessing, detection, mask paste), alternately ``--repeats``
times after one warm-up each. One JSON line: the median seconds of each
and ``ratio`` = onnxruntime / PyTorch; ``graph_ratio`` compares the graph
alone (onnxruntime's session against the same computation in PyTorch,
:class:`~ms_rcnn.deploy.graph.DetectorGraph`, without preprocessing and
paste). ``--int8`` also times an int8 copy
(:func:`ms_rcnn.deploy.quantize_int8`, calibrated on ``--calib`` or, by
default, on the random image itself): ``int8_ratio`` and
``int8_graph_ratio``, against PyTorch. Its detections count as
``int8_detections``.
"""
import argparse
import json
import os.path as osp
import statistics
import tempfile
import time

import numpy as np
import torch
from mmdet.structures import DetDataSample

from ms_rcnn.deploy import (OnnxMaskScoringDetector, build_model,
                            export_model, load_config, quantize_int8)
from ms_rcnn.deploy.graph import build_graph

DEFAULT_CONFIG = 'configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', help='default: random weights')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=(800, 1216),
        metavar=('H', 'W'), help='image size after the test pipeline')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--int8', action='store_true', help='also time an int8 copy')
    parser.add_argument(
        '--calib', nargs='+', metavar='IMG',
        help='calibration images of --int8 (default: the random image)')
    return parser.parse_args(argv)


def random_batch(shape, seed=0):
    """A random image of ``shape`` as the test pipeline would give it."""
    height, width = shape
    rng = np.random.RandomState(seed)
    img = torch.from_numpy(rng.randint(0, 256, (3, height, width))).float()
    sample = DetDataSample(
        metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                      scale_factor=(1., 1.)))
    return dict(inputs=[img], data_samples=[sample])


def random_image(shape, folder):
    """The random image of :func:`random_batch` as a PNG in ``folder``
    (the calibration image of ``--int8`` by default)."""
    import cv2
    path = osp.join(folder, 'random.png')
    img = random_batch(shape)['inputs'][0]
    cv2.imwrite(path, img.permute(1, 2, 0).numpy().astype(np.uint8))
    return path


def timed(run, *args):
    """Seconds of ``run(*args)``, and its result."""
    start = time.perf_counter()
    with torch.no_grad():
        result = run(*args)
    return time.perf_counter() - start, result


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    torch.manual_seed(0)
    model = build_model(cfg, args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = export_model(model, osp.join(tmp, 'model.onnx'),
                                 args.shape)
        detector = OnnxMaskScoringDetector(onnx_file, cfg, args.threads)
        graph = build_graph(model).eval()
        data = detector.data_preprocessor(random_batch(args.shape), False)
        img = data['inputs']
        img_shape = torch.tensor(args.shape)
        feed = dict(img=img.numpy(), img_shape=img_shape.numpy())
        runs = {
            'pytorch': (model.test_step, random_batch(args.shape)),
            'onnxruntime': (detector.test_step, random_batch(args.shape)),
            'pytorch_graph': (graph, img, img_shape),
            'onnxruntime_graph': (detector.session.run, None, feed),
        }
        if args.int8:
            calib = args.calib or [random_image(args.shape, tmp)]
            int8 = OnnxMaskScoringDetector(
                quantize_int8(onnx_file, osp.join(tmp, 'int8.onnx'), cfg,
                              calib), cfg, args.threads)
            runs['int8'] = (int8.test_step, random_batch(args.shape))
            runs['int8_graph'] = (int8.session.run, None, feed)
        seconds = {name: [] for name in runs}
        detections = {}
        for repeat in range(args.repeats + 1):
            for name, (run, *run_args) in runs.items():
                time_s, result = timed(run, *run_args)
                if repeat:  # the first run of each is a warm-up
                    seconds[name].append(time_s)
                if name in ('pytorch', 'int8'):
                    detections[name] = len(result[0].pred_instances)
    med = {name: statistics.median(s) for name, s in seconds.items()}
    out = dict(
        config=args.config, shape=list(args.shape), threads=args.threads,
        repeats=args.repeats, detections=detections['pytorch'],
        pytorch_s=round(med['pytorch'], 3),
        onnxruntime_s=round(med['onnxruntime'], 3),
        ratio=round(med['onnxruntime'] / med['pytorch'], 3),
        graph_ratio=round(
            med['onnxruntime_graph'] / med['pytorch_graph'], 3))
    if args.int8:
        out.update(
            int8_detections=detections['int8'],
            int8_s=round(med['int8'], 3),
            int8_ratio=round(med['int8'] / med['pytorch'], 3),
            int8_graph_ratio=round(
                med['int8_graph'] / med['pytorch_graph'], 3))
    out['runs_s'] = {name: [round(t, 3) for t in s]
                     for name, s in seconds.items()}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
