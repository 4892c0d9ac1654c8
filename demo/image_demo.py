"""Run an MS R-CNN model on images and draw masks, class and mask scores.

    python demo/image_demo.py demo.jpg CONFIG_OR_MODEL_NAME --weights CKPT
    python demo/image_demo.py images/ ms-rcnn_r50-caffe_fpn_1x_coco \
        --out-dir outputs --device cuda:0

Writes ``OUT_DIR/vis/<image>`` (drawn) and ``OUT_DIR/preds/<image>.json``
(labels, scores, mask_scores, boxes and RLE masks).
"""
from argparse import ArgumentParser

from mmengine.logging import print_log

import ms_rcnn
from ms_rcnn.apis.inferencer import MaskScoringInferencer


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument(
        'model', help='config file, or a model name from our metafiles')
    parser.add_argument('--weights', default=None, help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs', help='output folder')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--pred-score-thr',
        type=float,
        default=0.3,
        help='draw detections with a class score above this')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--show', action='store_true', help='show each image in a window')
    parser.add_argument('--no-save-vis', action='store_true')
    parser.add_argument('--no-save-pred', action='store_true')
    parser.add_argument(
        '--print-result', action='store_true', help='print the results')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ms_rcnn.register_all_modules(init_default_scope=False)
    inferencer = MaskScoringInferencer(
        model=args.model, weights=args.weights, device=args.device)
    results = inferencer(
        args.inputs,
        batch_size=args.batch_size,
        show=args.show,
        pred_score_thr=args.pred_score_thr,
        out_dir=args.out_dir,
        no_save_vis=args.no_save_vis,
        no_save_pred=args.no_save_pred,
        print_result=args.print_result)
    if not (args.no_save_vis and args.no_save_pred):
        print_log(f'results have been saved at {args.out_dir}')
    return results


if __name__ == '__main__':
    main()
