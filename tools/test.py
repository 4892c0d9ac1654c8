"""Test (evaluate) a checkpoint with mmengine's Runner (mmdet's test.py flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULT.pkl]
        [--show-dir DIR] [--cfg-options KEY=VALUE ...] [--launcher ...]

A CHECKPOINT ending in ``.onnx`` (written by
``tools/deployment/pytorch2onnx.py`` from CONFIG) is evaluated with
onnxruntime instead of PyTorch, through the same dataloader, metrics and
drawing; ``--cfg-options`` that change what the export froze, or that set
a model key that the file does not record (e.g. ``model.backbone.depth``),
are refused.
"""
import argparse

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import ms_rcnn
from ms_rcnn.data_checks.dataloader_cfgs import (check_dataloader_cfgs,
                                                 use_checked_loader)
from ms_rcnn.utils.registry_hints import registry_hints
from ms_rcnn.utils.tools import (add_common_args, load_tool_config,
                                 setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', help='checkpoint file, or an ONNX export of CONFIG')
    parser.add_argument(
        '--out', help='dump predictions to a pickle file (.pkl) as well')
    parser.add_argument(
        '--show-dir', help='draw predictions into this folder of work_dir')
    add_common_args(parser)
    return parser.parse_args(argv)


def build_cfg(args) -> Config:
    """The config with the command-line overrides applied."""
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    if args.checkpoint.endswith('.onnx'):
        # Registers OnnxMaskScoringDetector (onnxruntime is imported when
        # it is built).
        import ms_rcnn.deploy.detector  # noqa: F401
        # The detector merges --cfg-options into the config as above:
        # options that act outside the graph (the data preprocessor,
        # mask_thr_binary, mask2polygon) apply; those that the export froze
        # (score_thr, NMS, normalisation, ...) are refused, naming the
        # setting and both values, and model options that the file does
        # not record (the backbone's depth, ...) are refused by name.
        # (A Config object here would not print in the log.)
        cfg.model = dict(
            type='OnnxMaskScoringDetector',
            onnx_file=args.checkpoint,
            config=args.config,
            cfg_options=args.cfg_options)
        cfg.load_from = None
    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError(f'{args.config} has no visualization hook')
        hook.draw = True
        hook.test_out_dir = args.show_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpDetResults', out_file_path=args.out)
        ]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    ms_rcnn.register_all_modules(init_default_scope=False)
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg)
    # Annotation files are checked before mmdet parses them, and an unknown
    # `type` (built lazily, also inside train/test) gets close matches.
    check_dataloader_cfgs(cfg, ('test_dataloader', ))
    # A broken test image stops the run with its name (see the function).
    use_checked_loader(cfg, ('test_dataloader', ))
    with registry_hints():
        runner = (Runner.from_cfg(cfg)
                  if 'runner_type' not in cfg else RUNNERS.build(cfg))
        return runner.test()


if __name__ == '__main__':
    main()
