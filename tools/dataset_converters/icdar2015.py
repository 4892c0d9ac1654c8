"""Convert ICDAR2015 text-detection ground truth to COCO-style JSON.

Example::

    python tools/dataset_converters/icdar2015.py data/icdar2015 \\
        --out-dir data/icdar2015

reads ``RAW_DIR/ch4_training_images/img_N.jpg`` with
``RAW_DIR/ch4_training_localization_transcription_gt/gt_img_N.txt`` (and the
test folders) and writes ``OUT/icdar2015_train.json`` and
``OUT/icdar2015_test.json``, whose ``file_name`` entries are relative to
RAW_DIR. ``###`` words become ``iscrowd: 1`` (do-not-care), and so do
polygons of zero area, each named in a warning on stderr. A line that cannot
be parsed stops the conversion with its file and line.
"""
import argparse
import logging
from functools import partial

from ms_rcnn.data_preparation import convert_icdar2015
from ms_rcnn.data_preparation.coco_format import convert_splits


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('raw_dir', help='folder of the extracted dataset')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--train-img-dir', default='ch4_training_images')
    parser.add_argument(
        '--train-gt-dir',
        default='ch4_training_localization_transcription_gt')
    parser.add_argument('--test-img-dir', default='ch4_test_images')
    parser.add_argument('--test-gt-dir', default='Challenge4_Test_Task1_GT')
    return parser.parse_args(argv)


def main(argv=None):
    """Convert both splits; returns ``{split: json path}``."""
    args = parse_args(argv)
    # One 'WARNING: <file>, line N: ...' line per degenerate polygon.
    logging.basicConfig(format='%(levelname)s: %(message)s')
    splits = dict(
        train=(args.train_img_dir, args.train_gt_dir),
        test=(args.test_img_dir, args.test_gt_dir))
    return convert_splits(
        'icdar2015', args.out_dir, {
            split: partial(convert_icdar2015, args.raw_dir, img_dir, gt_dir)
            for split, (img_dir, gt_dir) in splits.items()
        })


if __name__ == '__main__':
    main()
