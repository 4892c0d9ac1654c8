"""Turn a training checkpoint into a release file named by its sha256.

    python tools/model_converters/publish_model.py \
        work_dirs/ms-rcnn_r50_fpn_1x_coco/epoch_12.pth \
        release/ms-rcnn_r50_fpn_1x_coco_20261122

writes ``release/ms-rcnn_r50_fpn_1x_coco_20261122-<8 hex>.pth`` and prints
that path. Only ``state_dict`` and a cleaned ``meta`` are kept: optimizer,
message hub, parameter schedulers and EMA copies are training state, large
and (the message hub) loadable only with extra unpickling permissions. The
result loads with ``torch.load(weights_only=True)`` and passes the hash check
of ``tools/misc/download_checkpoint.py``.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

from ms_rcnn.apis.download import sha256sum
from ms_rcnn.utils.checkpoint import load_trusted_local

# What inference and provenance need: the config text (mmengine's inferencer
# can rebuild the model from it), class names and palette, and where in
# training the weights come from. Other entries are dropped.
META_KEYS = ('cfg', 'dataset_meta', 'epoch', 'iter', 'seed', 'experiment_name',
             'time', 'mmengine_version')


def to_plain(value):
    """numpy scalars / arrays -> Python values, recursively.

    Plain values keep the published file loadable with
    ``weights_only=True`` and no allow-listed globals.
    """
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def clean_checkpoint(checkpoint):
    """``{'state_dict', 'meta'}`` of an mmengine checkpoint.

    Raises:
        KeyError: when there is no ``state_dict``.
    """
    if 'state_dict' not in checkpoint:
        raise KeyError(f'no state_dict in checkpoint (keys: '
                       f'{sorted(checkpoint)})')
    meta = checkpoint.get('meta') or {}
    meta = {k: to_plain(meta[k]) for k in META_KEYS if k in meta}
    # Detached, contiguous CPU tensors: no autograd state, no views that
    # would save the storage of a larger tensor.
    state_dict = {
        k: v.detach().cpu().contiguous() if torch.is_tensor(v) else v
        for k, v in checkpoint['state_dict'].items()
    }
    return dict(state_dict=state_dict, meta=meta)


def publish(in_file, out_prefix):
    """Clean ``in_file``, save it and name it ``<out_prefix>-<sha8>.pth``.

    Returns:
        Path: The published file.
    """
    out_prefix = str(out_prefix)
    if out_prefix.endswith('.pth'):
        out_prefix = out_prefix[:-len('.pth')]
    checkpoint = clean_checkpoint(load_trusted_local(in_file, 'cpu'))
    tmp = Path(out_prefix + '.pth.part')
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.save(checkpoint, tmp)
        digest = sha256sum(tmp)
        final = Path(f'{out_prefix}-{digest[:8]}.pth')
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Strip training state from a checkpoint and name it '
        'by its sha256.')
    parser.add_argument('in_file', help='checkpoint written by the Runner')
    parser.add_argument(
        'out_prefix', help='output path without the -<sha256>.pth suffix')
    args = parser.parse_args(argv)
    print(publish(args.in_file, args.out_prefix))
    return 0


if __name__ == '__main__':
    sys.exit(main())
