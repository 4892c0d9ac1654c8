"""Generate a synthetic scene-text dataset in the raw layout of ICDAR 2015
or CTW1500.

Example::

    python tools/dataset_converters/make_text.py icdar2015 \\
        --out-dir data/synthtext_icdar2015
    python tools/dataset_converters/icdar2015.py data/synthtext_icdar2015 \\
        --out-dir data/synthtext_icdar2015

writes the images and ground-truth files where the real dataset has them
(``ch4_training_images/``, ``ch4_training_localization_transcription_gt/``,
... or ``train_images/``, ``ctw1500_train_labels/``, ...), for the
shipped converter to turn into COCO files. The same arguments always give
the same bytes. Folders of the layout that hold files are refused, so that
no file of an earlier run is converted with the new ones; ``--overwrite``
deletes their files first.
"""
import argparse
import time

from ms_rcnn.data_preparation.synthetic_text import (DNC_SHARE, LAYOUTS,
                                                     generate_text_dataset)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kind', choices=sorted(LAYOUTS))
    parser.add_argument('--out-dir', required=True, help='dataset root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=600)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument(
        '--img-size', type=int, default=256, help='side of square images')
    parser.add_argument(
        '--dnc-share',
        type=float,
        help='probability that a word (not the first of an image) is '
        f'do-not-care; default {DNC_SHARE}')
    parser.add_argument(
        '--fonts',
        nargs='+',
        help='TrueType files to draw the words with (default: the DejaVu '
        'fonts installed with matplotlib)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='delete the files of the layout\'s folders in --out-dir first '
        '(without it, folders that hold files are refused)')
    args = parser.parse_args(argv)
    for name in ('num_train', 'num_test'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.img_size < 64:
        parser.error('--img-size must be >= 64')
    if args.dnc_share is not None and not 0 <= args.dnc_share <= 1:
        parser.error('--dnc-share must be in [0, 1]')
    return args


def main(argv=None):
    """Write the dataset; returns its counts per split."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        counts = generate_text_dataset(
            args.out_dir, args.kind, seed=args.seed,
            num_train=args.num_train, num_test=args.num_test,
            img_size=args.img_size, dnc_share=args.dnc_share,
            fonts=args.fonts, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f'error: {e}')
    for split, c in counts.items():
        img_dir, ann_dir = LAYOUTS[args.kind][split]
        print(f'{split}: {c["images"]} images, {c["words"]} words, '
              f'{c["do_not_care"]} do-not-care -> {args.out_dir}/'
              f'{{{img_dir},{ann_dir}}}')
    print(f'done in {time.perf_counter() - start:.1f} s; convert with '
          f'python tools/dataset_converters/{args.kind}.py {args.out_dir} '
          f'--out-dir {args.out_dir}')
    return counts


if __name__ == '__main__':
    main()
