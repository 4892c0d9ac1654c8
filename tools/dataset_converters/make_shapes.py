"""Generate the synthetic shapes dataset in COCO instance-segmentation format.

Example::

    python tools/dataset_converters/make_shapes.py --out-dir data/shapes

writes ``data/shapes/images/*.png`` and
``data/shapes/annotations/{train,val}.json``. The same seed always gives the
same bytes.
"""
import argparse
import json
import time

from mmengine.logging import print_log

from ms_rcnn.data_preparation.shapes import CLASSES, generate_shapes_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument(
        '--img-size', type=int, default=128, help='side of square images')
    parser.add_argument(
        '--max-instances', type=int, default=4, help='shapes per image, 1..N')
    args = parser.parse_args(argv)
    for name in ('num_train', 'num_val', 'img_size', 'max_instances'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    paths = generate_shapes_dataset(args.out_dir, args.seed, args.num_train,
                                    args.num_val, args.img_size,
                                    args.max_instances)
    for split in ('train', 'val'):
        with open(paths[f'{split}_ann']) as f:
            coco = json.load(f)
        print_log(
            f'{split}: {len(coco["images"])} images, '
            f'{len(coco["annotations"])} instances of {len(CLASSES)} '
            f'classes -> {paths[f"{split}_ann"]}',
            logger='current')
    print_log(f'done in {time.perf_counter() - start:.1f} s', logger='current')
    return paths


if __name__ == '__main__':
    main()
