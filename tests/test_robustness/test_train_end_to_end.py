"""tools/train.py on the quick-start config: fine-tuning MS R-CNN from a
Mask R-CNN checkpoint on data with a missing and a truncated image."""
import importlib.util
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from robustness_testing import (ROOT, copy_data, read_losses, robust_pipelines,
                                tiny_cfg)

from ms_rcnn.registry import MODELS
from ms_rcnn.data_checks import DataWarning


@pytest.mark.slow
def test_finetune_from_mask_rcnn_skipping_bad_images(tiny_shapes, tmp_path,
                                                     capsys):
    data = copy_data(tiny_shapes, tmp_path / 'shapes')
    missing = os.path.join(data['img_dir'], 'train_000003.png')
    truncated = os.path.join(data['img_dir'], 'train_000005.png')
    os.remove(missing)
    with open(truncated, 'r+b') as f:
        f.truncate(500)
    # A Mask R-CNN checkpoint of the quick-start twin.
    init_default_scope('ms_rcnn')
    mask_rcnn = MODELS.build(
        Config.fromfile(
            str(ROOT / 'configs' / 'quickstart' /
                'mask-rcnn_quickstart.py')).model)
    ckpt = str(tmp_path / 'mask_rcnn.pth')
    torch.save(dict(state_dict=mask_rcnn.state_dict(), meta={}), ckpt)

    # 4 iterations x 2 images: one pass over the 8 shuffled images, so
    # each bad file comes up at least once.
    cfg = robust_pipelines(
        tiny_cfg(
            data,
            tmp_path / 'work',
            max_iters=4,
            ckpt_interval=4,
            batch_size=2))
    cfg.load_from = ckpt
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    capsys.readouterr()
    with pytest.warns(DataWarning) as record:
        train.main([config])
    warned = {str(w.message) for w in record if w.category is DataWarning}
    # Each bad file is named, and replaced by another sample.
    assert warned == {
        f'skipping sample {missing}: image file does not exist',
        f'skipping sample {truncated}: image file is truncated'
    }
    assert sorted(read_losses(tmp_path / 'work')) == [1, 2, 3, 4]
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()
    # The Runner loads `load_from` without a logger: mmengine prints the
    # keys the checkpoint lacks on stdout, the MaskIoU head's and no other.
    head = sorted(k for k in MODELS.build(cfg.model).state_dict()
                  if k.startswith('roi_head.mask_iou_head.'))
    out = capsys.readouterr().out
    listed, = [
        line for line in out.splitlines()
        if line.startswith('missing keys in source state_dict: ')
    ]
    assert sorted(listed.split(': ', 1)[1].split(', ')) == head
    assert 'unexpected key' not in out and 'size mismatch' not in out
    # The run's log file says once why, and lists no keys.
    log, = (tmp_path / 'work').glob('*/*.log')
    lines = log.read_text().splitlines()
    said = [
        line.split(' - ')[-1] for line in lines
        if 'not in the checkpoint' in line or 'initialised' in line
    ]
    assert said == [
        'roi_head.mask_iou_head is not in the checkpoint (a Mask R-CNN '
        'checkpoint)'
    ]
    assert not [line for line in lines if 'missing keys' in line]
