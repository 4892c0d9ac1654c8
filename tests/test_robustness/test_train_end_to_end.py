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
def test_finetune_from_mask_rcnn_skipping_bad_images(tiny_shapes, tmp_path):
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

    cfg = robust_pipelines(
        tiny_cfg(
            data,
            tmp_path / 'work',
            max_iters=3,
            ckpt_interval=3,
            batch_size=2))
    cfg.load_from = ckpt
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    with pytest.warns(DataWarning) as record:
        train.main([config])
    warned = {str(w.message) for w in record if w.category is DataWarning}
    # 3 iterations x 2 images out of 8 (2 bad): each bad file is met at
    # least once, named, and replaced by another sample.
    assert warned <= {
        f'skipping sample {missing}: image file does not exist',
        f'skipping sample {truncated}: image file is truncated'
    }
    assert len(warned) >= 1
    assert sorted(read_losses(tmp_path / 'work')) == [1, 2, 3]
    assert (tmp_path / 'work' / 'iter_3.pth').is_file()
    # The run's log file says it once, and has no list of missing keys.
    log, = (tmp_path / 'work').glob('*/*.log')
    lines = log.read_text().splitlines()
    said = [
        line.split(' - ')[-1] for line in lines if 'newly initialised' in line
    ]
    assert said == [
        'The checkpoint has no roi_head.mask_iou_head (a Mask R-CNN '
        'checkpoint): newly initialised: roi_head.mask_iou_head'
    ]
    assert not [line for line in lines if 'missing keys' in line]
