"""Benchmark one training step of a MaskIoU head on a frozen detector
(``tools/add_mask_score.py``) against a joint MS R-CNN step, in the same run.

Both models have the same weights and train on the same batch; the joint
step is MS R-CNN's (every loss, every gradient), the frozen one that of the
config ``tools/add_mask_score.py`` writes for the Mask R-CNN twin
(``frozen_detector=True``; the detector's parameters without gradient, as
``TrainOnlyHook`` leaves them). Prints one JSON line: the median ms of a
step (forward, backward and optimizer update, interleaved repeats after a
warm-up), their ratio (frozen / joint, lower is better), the peak memory
of a step (host: see ``benchmark_heads.peak_host_bytes``; CUDA: the peak
allocated) and its ratio, and how many parameters outside the MaskIoU
head the autograd graph of each step reaches (``*_graph_params_outside``;
0 for the frozen step: its backward never enters the detector).

Example::

    python tools/analysis_tools/benchmark_frozen_step.py --repeats 10
    python tools/analysis_tools/benchmark_frozen_step.py --device cuda \\
        --twin configs/quickstart/mask-rcnn_quickstart.py
    python tools/analysis_tools/benchmark_frozen_step.py --cfg-options \\
        model.train_cfg.rcnn.mask_iou_detections.max_per_img=16 \\
        model.train_cfg.rcnn.mask_iou_detections.rpn.max_per_img=100
"""
import argparse
import json
import os.path as osp
import platform
import sys

import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import ms_rcnn
from ms_rcnn.registry import MODELS

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [TOOLS, osp.join(TOOLS, 'analysis_tools')]
from add_mask_score import HEAD, mask_score_config  # noqa: E402
from benchmark_heads import interleaved, peak_host_bytes, sync  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--joint',
        default='configs/quickstart/ms-rcnn_quickstart.py',
        help='the MS R-CNN config trained jointly')
    parser.add_argument(
        '--twin',
        default='configs/quickstart/mask-rcnn_quickstart.py',
        help='its Mask R-CNN twin, made into the frozen config')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--size', type=int, default=128, help='image side')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the frozen config, KEY=VALUE (e.g. fewer '
        'detections: model.train_cfg.rcnn.mask_iou_detections.'
        'max_per_img=16)')
    return parser.parse_args()


def build(cfg, device):
    init_default_scope(cfg.get('default_scope', 'ms_rcnn'))
    model = MODELS.build(cfg.model).to(device)
    model.train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def graph_params_outside(loss, head_params):
    """Parameters that the autograd graph of ``loss`` reaches (its leaves)
    other than ``head_params``, counted by walking the graph."""
    seen, stack, count = set(), [loss.grad_fn], 0
    head = {id(p) for p in head_params}
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        variable = getattr(fn, 'variable', None)
        if variable is not None and id(variable) not in head:
            count += 1
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return count


def main():
    args = parse_args()
    ms_rcnn.register_all_modules(init_default_scope=False)
    joint_cfg = Config.fromfile(args.joint)
    frozen_cfg = mask_score_config(
        Config.fromfile(args.twin), 'unused.pth', 'unused')
    if args.cfg_options:
        frozen_cfg.merge_from_dict(args.cfg_options)
    joint, joint_optim = build(joint_cfg, args.device)
    frozen, frozen_optim = build(frozen_cfg, args.device)
    frozen.load_state_dict(joint.state_dict())
    for name, param in frozen.named_parameters():
        param.requires_grad_(name.startswith(HEAD + '.'))
    num_classes = joint.roi_head.bbox_head.num_classes
    packed = demo_mm_inputs(
        args.batch_size, [[3, args.size, args.size]] * args.batch_size,
        num_items=[3] * args.batch_size,
        num_classes=num_classes,
        with_mask=True)

    def step(model, optim):
        def run():
            torch.manual_seed(0)  # the same sampled RoIs
            model.train_step(packed, optim)
        return run

    times = interleaved(
        dict(
            frozen_ms=step(frozen, frozen_optim),
            joint_ms=step(joint, joint_optim)), args.repeats, args.device)
    out = dict(times, device=args.device, cpu=platform.processor(),
               threads=torch.get_num_threads(), batch=args.batch_size,
               size=args.size, cfg_options=args.cfg_options)
    for name, model, optim in (('frozen', frozen, frozen_optim),
                               ('joint', joint, joint_optim)):
        if args.device.startswith('cuda'):
            sync(args.device)
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step(model, optim)()
            sync(args.device)
            peak = torch.cuda.max_memory_allocated() - base
        else:
            peak = peak_host_bytes(step(model, optim))
        out[f'{name}_peak_mib'] = round(peak / 2**20, 1)
    out['peak_ratio'] = round(out['frozen_peak_mib'] / out['joint_peak_mib'],
                              4)
    for name, model in (('frozen', frozen), ('joint', joint)):
        data = model.data_preprocessor(packed, True)
        torch.manual_seed(0)
        losses = model.loss(data['inputs'], data['data_samples'])
        head = [p for n, p in model.named_parameters() if n.startswith(HEAD)]
        out[f'{name}_graph_params_outside'] = graph_params_outside(
            model.parse_losses(losses)[0], head)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
