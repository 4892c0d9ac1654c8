"""The guide's config for a dataset of one's own: it builds, loads the
COCO checkpoint of `load_from` and trains."""
import json
import math
import os
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import ms_rcnn
from ms_rcnn.registry import MODELS

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / 'docs' / 'user_guides' / 'own_data.md'


def _readme_config():
    text = GUIDE.read_text()
    section = text[text.index('## A COCO-format dataset'):]
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    # ms_rcnn:: needs a regular install (tested in test_mim.py); the
    # editable install of the checkout is read from the source tree.
    return snippet.replace('ms_rcnn::', str(ROOT / 'configs') + '/')


def _pets(shapes, root):
    """The tiny shapes dataset as the guide's data/pets/: two classes
    named cat and dog (the third shape counts as a dog)."""
    os.makedirs(root)
    os.symlink(shapes['img_dir'], os.path.join(root, 'images'))
    for split in ('train', 'val'):
        with open(shapes[f'{split}_ann']) as f:
            coco = json.load(f)
        coco['categories'] = [
            dict(id=1, name='cat'), dict(id=2, name='dog')
        ]
        for ann in coco['annotations']:
            ann['category_id'] = min(ann['category_id'], 2)
        with open(os.path.join(root, f'{split}.json'), 'w') as f:
            json.dump(coco, f)


@pytest.mark.slow
def test_own_data_config_fine_tunes_from_the_coco_checkpoint(
        tiny_shapes, tmp_path, monkeypatch, capsys):
    # The config's paths are relative to the working directory.
    monkeypatch.chdir(tmp_path)
    _pets(tiny_shapes, 'data/pets')
    (tmp_path / 'pets.py').write_text(_readme_config())
    cfg = Config.fromfile('pets.py')
    assert cfg.model.type == 'MaskScoringRCNN'
    assert cfg.model.backbone.style == 'caffe'
    assert cfg.train_dataloader.dataset.metainfo.classes == ('cat', 'dog')
    assert cfg.val_evaluator.type == 'CocoMetric'
    assert cfg.val_evaluator.ann_file == 'data/pets/val.json'

    # A COCO model (80 classes) where `load_from` expects the download.
    ms_rcnn.register_all_modules()
    init_default_scope('ms_rcnn')
    coco_cfg = Config.fromfile(
        str(ROOT / 'configs' / 'ms_rcnn' /
            'ms-rcnn_r50-caffe_fpn_1x_coco.py')).model
    coco_cfg.backbone.init_cfg = None
    coco = MODELS.build(coco_cfg).state_dict()
    os.makedirs(os.path.dirname(cfg.load_from))
    torch.save({'state_dict': coco}, cfg.load_from)

    # One training step on one image, resized to 256 px instead of 800 to
    # save time; no ImageNet download (the weights come from load_from
    # anyway), no validation, no checkpoint file.
    cfg.model.backbone.init_cfg = None
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.indices = 1
    resize, = [t for t in cfg.train_dataloader.dataset.pipeline
               if t.type == 'Resize']
    resize.scale = (256, 256)
    cfg.train_cfg.max_epochs = 1
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = str(tmp_path / 'work')
    capsys.readouterr()
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    model = runner.model.state_dict()
    # The frozen first stage is the COCO model's, exactly: load_from was
    # loaded...
    assert torch.equal(model['backbone.conv1.weight'],
                       coco['backbone.conv1.weight'])
    # ...except the layers whose shape depends on the number of classes,
    # which mmengine lists (on stdout: the Runner loads without a logger).
    out = capsys.readouterr().out
    mismatched = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(
            r'size mismatch for (\S+): copying a param with shape '
            r'torch.Size\(\[([\d, ]+)\]\) from checkpoint, the shape in '
            r'current model is torch.Size\(\[([\d, ]+)\]\)', out)
    }
    assert mismatched == {
        'roi_head.bbox_head.fc_cls.weight': ('81, 1024', '3, 1024'),
        'roi_head.bbox_head.fc_cls.bias': ('81', '3'),
        'roi_head.bbox_head.fc_reg.weight': ('320, 1024', '8, 1024'),
        'roi_head.bbox_head.fc_reg.bias': ('320', '8'),
        'roi_head.mask_head.conv_logits.weight': ('80, 256, 1, 1',
                                                  '2, 256, 1, 1'),
        'roi_head.mask_head.conv_logits.bias': ('80', '2'),
        'roi_head.mask_iou_head.fc_mask_iou.weight': ('80, 1024',
                                                      '2, 1024'),
        'roi_head.mask_iou_head.fc_mask_iou.bias': ('80', '2'),
    }
    assert 'missing keys' not in out and 'unexpected key' not in out
