"""Benchmark ms_rcnn's MS R-CNN heads against mmdet's, in the same run.

Prints one JSON line. Each part times ours and mmdet's alternately
(interleaved repeats, after a warm-up) and reports medians in ms and the
ratio ours / mmdet (lower is better):

* ``targets``: MaskIoU targets of 128 positives on 16 ground-truth bitmaps
  (and polygons) at 800x1216, and on 50 bitmaps of which one covers almost
  the whole image (ours: the functions of
  ``ms_rcnn.models.task_modules.mask_iou_target``; mmdet's:
  ``MaskIoUHead.get_targets``), with the peak host memory each allocates
  (``*_peak_mib``, see :func:`peak_host_bytes`);
* ``train_step``: forward + backward of ms-rcnn_r50_fpn on one 800x1216
  image with identical weights and the same sampled RoIs;
* ``inference``: prediction of one 800x1216 image with 100 detections;
* ``maskness``: the same prediction by mmdet's Mask R-CNN
  (``mask-rcnn_r50_fpn_1x_coco``) with ms_rcnn's ``MasknessRoIHead``
  (ours: its masks plus their maskness) and with mmdet's
  ``StandardRoIHead``, identical weights.

Example::

    python tools/analysis_tools/benchmark_heads.py --repeats 5
    python tools/analysis_tools/benchmark_heads.py --parts targets \\
        --device cuda
"""
import argparse
import copy
import itertools
import json
import platform
import statistics
import time
import tracemalloc
from types import SimpleNamespace

import cv2
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import ms_rcnn
from ms_rcnn.registry import MODELS

HEIGHT, WIDTH = 800, 1216


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--parts',
        nargs='+',
        default=['targets', 'train_step', 'inference', 'maskness'],
        choices=['targets', 'train_step', 'inference', 'maskness'])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--num-pos', type=int, default=128)
    parser.add_argument('--num-gts', type=int, default=16)
    parser.add_argument(
        '--config',
        default='configs/ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py',
        help='our config; mmdet\'s is mmdet::ms_rcnn/<same name>')
    return parser.parse_args()


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def interleaved(fns, repeats, device):
    """Median ms of each callable, run alternately after one warm-up, and
    the ratio of the first to the second."""
    times = {name: [] for name in fns}
    for name, fn in fns.items():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append((time.perf_counter() - start) * 1000)
    out = {name: round(statistics.median(t), 2) for name, t in times.items()}
    first, second = list(out)[:2]
    out['ratio'] = round(out[first] / out[second], 4)
    return out


def peak_host_bytes(fn):
    """Peak host memory allocated while ``fn()`` runs, in bytes.

    numpy reports its array buffers to ``tracemalloc``, which does not see
    torch's tensors; torch's profiler records each CPU allocation and free,
    whose running sum peaks at torch's share. The sum of the two peaks is an
    upper bound of the joint peak. Memory held before the call is not
    counted.
    """
    with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU],
            profile_memory=True) as prof:
        tracing = tracemalloc.is_tracing()
        if not tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        try:
            fn()
            numpy_peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            if not tracing:
                tracemalloc.stop()
    # An allocation counts at the start of the op that made it (its "self"
    # memory), a free as a negative "[memory]" event.
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    torch_peak = max(
        itertools.accumulate(e.self_cpu_memory_usage for e in events),
        default=0)
    return numpy_peak + max(torch_peak, 0)


def make_instances(num_gts, device, seed=0):
    """Rectangles and discs of 40..300 px, as 0/1 bitmaps."""
    rng = np.random.RandomState(seed)
    masks = np.zeros((num_gts, HEIGHT, WIDTH), np.uint8)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    boxes = []
    for i in range(num_gts):
        w, h = rng.randint(40, 300, 2)
        x1, y1 = rng.randint(0, WIDTH - w), rng.randint(0, HEIGHT - h)
        if i % 2:
            masks[i, y1:y1 + h, x1:x1 + w] = 1
        else:
            r = min(w, h) / 2
            masks[i] = (xx - x1 - w / 2)**2 + (yy - y1 - h / 2)**2 <= r * r
        boxes.append([x1, y1, x1 + w, y1 + h])
    gt = InstanceData()
    gt.bboxes = torch.tensor(boxes, dtype=torch.float32, device=device)
    gt.labels = torch.from_numpy(rng.randint(0, 80, num_gts)).to(device)
    gt.masks = BitmapMasks(masks, HEIGHT, WIDTH)
    return gt


def to_polygon_masks(bitmaps):
    """The outer contours of the bitmaps as PolygonMasks (COCO's format)."""
    polygons = []
    for mask in bitmaps.masks:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        polygons.append([c.reshape(-1).astype(np.float64) for c in contours])
    return PolygonMasks(polygons, bitmaps.height, bitmaps.width)


def positives(gt, num_pos, device):
    """Boxes of randomly chosen instances, each side moved by up to 20 px,
    as mmdet's sampling result of positives."""
    rng = np.random.RandomState(1)
    inds = torch.from_numpy(rng.randint(0, len(gt), num_pos))
    jitter = torch.from_numpy(rng.uniform(-20, 20, (num_pos, 4)))
    return SimpleNamespace(
        pos_priors=(gt.bboxes.cpu()[inds] + jitter).float().to(device),
        pos_assigned_gt_inds=inds.to(device))


def bench_targets(args):
    from mmdet.models.roi_heads.mask_heads import MaskIoUHead as MMDetHead

    from ms_rcnn.models.task_modules import area_ratios, mask_iou_targets
    gt = make_instances(args.num_gts, args.device)
    # One instance of almost the whole image among 49 of 40..300 px.
    large = make_instances(50, args.device)
    large.masks.masks[0] = 0
    large.masks.masks[0, 20:-20, 20:-20] = 1
    large.bboxes[0] = large.bboxes.new_tensor([20, 20, WIDTH - 20,
                                               HEIGHT - 20])
    mask_preds = torch.randn(args.num_pos, 28, 28, device=args.device)
    mask_targets = (torch.rand(args.num_pos, 28, 28, device=args.device) >
                    .5).float()
    cfg = ConfigDict(mask_thr_binary=0.5)
    theirs = MMDetHead()
    out = {}
    polygons = to_polygon_masks(gt.masks)
    cases = [('bitmap', gt, gt.masks), ('polygon', gt, polygons),
             ('bitmap_50_one_large', large, large.masks)]
    for kind, instances, masks in cases:
        res = positives(instances, args.num_pos, args.device)
        inst = SimpleNamespace(masks=masks)

        def ours():
            ratios = area_ratios(res.pos_priors, res.pos_assigned_gt_inds,
                                 masks)
            return mask_iou_targets(mask_preds, mask_targets,
                                    ratios.to(args.device))

        def mmdet():
            return theirs.get_targets([res], [inst], mask_preds, mask_targets,
                                      cfg)

        # The same ratios; the targets differ where mmdet thresholds logits.
        torch.testing.assert_close(
            area_ratios(res.pos_priors, res.pos_assigned_gt_inds, masks),
            theirs._get_area_ratio(res.pos_priors, res.pos_assigned_gt_inds,
                                   masks),
            rtol=1e-5,
            atol=1e-5)
        out[kind] = interleaved({
            'ours_ms': ours,
            'mmdet_ms': mmdet
        }, args.repeats, args.device)
        for name, fn in [('ours', ours), ('mmdet', mmdet)]:
            out[kind][f'{name}_peak_mib'] = round(
                peak_host_bytes(fn) / 2**20, 3)
    return out


def build_models(args):
    """mmdet's and our model with identical random weights (no download)."""
    name = args.config.rsplit('/', 1)[-1]
    mmdet_cfg = get_config(f'mmdet::ms_rcnn/{name}').model
    our_cfg = Config.fromfile(args.config).model
    for cfg in (mmdet_cfg, our_cfg):
        cfg.backbone.init_cfg = None
        cfg.test_cfg.rcnn.score_thr = 0.0  # always 100 detections
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as MMDET_MODELS
    torch.manual_seed(0)
    theirs = MMDET_MODELS.build(mmdet_cfg).to(args.device)
    init_default_scope('ms_rcnn')
    ours = MODELS.build(our_cfg).to(args.device)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def build_maskness_models(args):
    """mmdet's Mask R-CNN with ms_rcnn's MasknessRoIHead and with mmdet's
    StandardRoIHead, identical random weights."""
    cfg = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model
    cfg.backbone.init_cfg = None
    cfg.test_cfg.rcnn.score_thr = 0.0  # always 100 detections
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as MMDET_MODELS
    torch.manual_seed(0)
    theirs = MMDET_MODELS.build(cfg).to(args.device)
    cfg.roi_head.type = 'ms_rcnn.MasknessRoIHead'
    ours = MMDET_MODELS.build(cfg).to(args.device)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def make_batch(args):
    rng = np.random.RandomState(2)
    sample = DetDataSample()
    shape = (HEIGHT, WIDTH)
    sample.set_metainfo(
        dict(
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            batch_input_shape=shape,
            scale_factor=(1., 1.)))
    sample.gt_instances = make_instances(args.num_gts, 'cpu')
    img = torch.from_numpy(rng.randint(0, 255, (3, ) + shape)).float()
    return dict(inputs=[img], data_samples=[sample])


def bench_model(args, ours, theirs, mode):
    batch = make_batch(args)

    def step(model):
        data = model.data_preprocessor(copy.deepcopy(batch), mode == 'loss')
        if mode == 'loss':
            torch.manual_seed(0)
            losses = model(**data, mode='loss')
            total = sum(v if isinstance(v, torch.Tensor) else sum(v)
                        for k, v in losses.items() if 'loss' in k)
            total.backward()
            model.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                model(**data, mode='predict')

    for model in (ours, theirs):
        model.train(mode == 'loss')
    return interleaved({
        'ours_ms': lambda: step(ours),
        'mmdet_ms': lambda: step(theirs)
    }, args.repeats, args.device)


def main():
    args = parse_args()
    ms_rcnn.register_all_modules(init_default_scope=False)
    result = dict(
        device=args.device if args.device == 'cpu' else
        torch.cuda.get_device_name(args.device),
        cpu=platform.processor() or platform.machine(),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        repeats=args.repeats,
        num_pos=args.num_pos,
        num_gts=args.num_gts,
        image=[HEIGHT, WIDTH])
    if 'targets' in args.parts:
        result['targets'] = bench_targets(args)
    if {'train_step', 'inference'} & set(args.parts):
        ours, theirs = build_models(args)
        if 'train_step' in args.parts:
            result['train_step'] = bench_model(args, ours, theirs, 'loss')
        if 'inference' in args.parts:
            result['inference'] = bench_model(args, ours, theirs, 'predict')
    if 'maskness' in args.parts:
        result['maskness'] = bench_model(args, *build_maskness_models(args),
                                         'predict')
    print(json.dumps(result))


if __name__ == '__main__':
    main()
