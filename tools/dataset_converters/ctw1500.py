"""Convert SCUT-CTW1500 text-detection ground truth to COCO-style JSON.

Example::

    python tools/dataset_converters/ctw1500.py data/ctw1500 \\
        --out-dir data/ctw1500

reads ``RAW_DIR/train_images/NNNN.jpg`` with
``RAW_DIR/ctw1500_train_labels/NNNN.xml`` and ``RAW_DIR/test_images/NNNN.jpg``
with ``RAW_DIR/ctw1500_test_labels/000NNNN.txt``, and writes
``OUT/ctw1500_train.json`` and ``OUT/ctw1500_test.json``, whose ``file_name``
entries are relative to RAW_DIR. ``###`` transcriptions become
``iscrowd: 1`` (do-not-care), and so do polygons of zero area, each named in
a warning on stderr. A box or line that cannot be parsed stops the
conversion with its file and box or line.
"""
import argparse
import logging
from functools import partial

from ms_rcnn.data_preparation import convert_ctw1500
from ms_rcnn.data_preparation.coco_format import convert_splits


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('raw_dir', help='folder of the extracted dataset')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--train-img-dir', default='train_images')
    parser.add_argument('--train-label-dir', default='ctw1500_train_labels')
    parser.add_argument('--test-img-dir', default='test_images')
    parser.add_argument('--test-label-dir', default='ctw1500_test_labels')
    return parser.parse_args(argv)


def main(argv=None):
    """Convert both splits; returns ``{split: json path}``."""
    args = parse_args(argv)
    # One 'WARNING: <file>, line N: ...' line per degenerate polygon.
    logging.basicConfig(format='%(levelname)s: %(message)s')
    splits = dict(
        train=(args.train_img_dir, args.train_label_dir),
        test=(args.test_img_dir, args.test_label_dir))
    return convert_splits(
        'ctw1500', args.out_dir, {
            split: partial(convert_ctw1500, args.raw_dir, img_dir,
                           label_dir, split)
            for split, (img_dir, label_dir) in splits.items()
        })


if __name__ == '__main__':
    main()
