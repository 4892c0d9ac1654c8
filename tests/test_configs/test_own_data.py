"""The README's five-line config for a dataset of one's own."""
import re
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import ms_rcnn
from ms_rcnn.registry import MODELS

README = Path(__file__).parents[2] / 'README.md'


def _readme_config():
    text = README.read_text()
    section = text[text.index('### Your own data'):]
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    # ms_rcnn:: needs a regular install (tested in test_mim.py); the
    # editable install of the checkout is read from the source tree.
    return snippet.replace('ms_rcnn::', str(README.parent / 'configs') + '/')


def test_own_data_config_builds_and_fine_tunes(tmp_path):
    path = tmp_path / 'pets.py'
    path.write_text(_readme_config())
    cfg = Config.fromfile(str(path))
    assert cfg.model.type == 'MaskScoringRCNN'
    assert cfg.model.backbone.style == 'caffe'
    assert cfg.train_dataloader.dataset.metainfo.classes == ('cat', 'dog')
    assert cfg.val_evaluator.type == 'CocoMetric'
    assert cfg.val_evaluator.ann_file == 'data/pets/val.json'

    ms_rcnn.register_all_modules()
    init_default_scope('ms_rcnn')
    cfg.model.backbone.init_cfg = None
    ours = MODELS.build(cfg.model)
    coco_cfg = Config.fromfile(
        'configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py').model
    coco_cfg.backbone.init_cfg = None
    coco = MODELS.build(coco_cfg)
    torch.save({'state_dict': coco.state_dict()}, tmp_path / 'coco.pth')
    before = ours.roi_head.mask_iou_head.fc_mask_iou.weight.clone()
    load_checkpoint(ours, str(tmp_path / 'coco.pth'))
    # Shared layers come from the COCO model; 2-class layers keep their
    # initialisation.
    torch.testing.assert_close(ours.roi_head.mask_iou_head.fcs[0].weight,
                               coco.roi_head.mask_iou_head.fcs[0].weight)
    torch.testing.assert_close(ours.backbone.conv1.weight,
                               coco.backbone.conv1.weight)
    assert ours.roi_head.mask_iou_head.fc_mask_iou.weight.shape == (2, 1024)
    assert torch.equal(ours.roi_head.mask_iou_head.fc_mask_iou.weight,
                       before)
