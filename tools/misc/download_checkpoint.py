"""Download a model-zoo checkpoint and verify the sha256 in its file name.

    python tools/misc/download_checkpoint.py ms-rcnn_r50-caffe_fpn_1x_coco \
        --dest checkpoints/

NAME_OR_URL is a model name from configs/ms_rcnn/metafile.yml or a URL.
``--base-url`` (or ``$MS_RCNN_DOWNLOAD_BASE``) replaces
https://download.openmmlab.com for mirrors. Prints the final path on stdout;
progress and, on failure, one ``error:`` line go to stderr (exit status 1).
"""
import argparse
import sys

from ms_rcnn.apis.download import DownloadError, download_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('name_or_url', help='model name or checkpoint URL')
    parser.add_argument('--dest', required=True, help='directory to save in')
    parser.add_argument(
        '--base-url',
        help='mirror replacing https://download.openmmlab.com '
        '(default: $MS_RCNN_DOWNLOAD_BASE)')
    parser.add_argument(
        '--timeout', type=float, default=30., help='seconds per network wait')
    parser.add_argument(
        '--metafile',
        action='append',
        help='metafile to look NAME up in (repeatable; default: ours)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        result = download_checkpoint(
            args.name_or_url,
            args.dest,
            base_url=args.base_url,
            timeout=args.timeout,
            metafiles=args.metafile,
            log=lambda msg: print(msg, file=sys.stderr))
    except DownloadError as exc:
        # An expected failure (offline, bad mirror): no traceback.
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('error: interrupted; no partial file was kept', file=sys.stderr)
        return 1
    print(result.path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
