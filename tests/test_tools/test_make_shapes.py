"""make_shapes.py: command line to files."""
import importlib.util
import json
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'dataset_converters', 'make_shapes.py')
    spec = importlib.util.spec_from_file_location('make_shapes', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_shapes_writes_the_requested_sizes(tmp_path):
    out = str(tmp_path / 'shapes')
    paths = load_tool().main([
        '--out-dir', out, '--seed', '2', '--num-train', '3', '--num-val', '2',
        '--img-size', '64', '--max-instances', '2'
    ])
    assert paths['train_ann'] == osp.join(out, 'annotations', 'train.json')
    with open(paths['val_ann']) as f:
        val = json.load(f)
    assert [img['file_name']
            for img in val['images']] == ['val_000000.png', 'val_000001.png']
    assert all(img['height'] == img['width'] == 64 for img in val['images'])
    assert val['info']['seed'] == 2
    assert len(os.listdir(osp.join(out, 'images'))) == 5
    with open(paths['train_ann']) as f:
        train = json.load(f)
    for img in train['images']:
        num = sum(a['image_id'] == img['id'] for a in train['annotations'])
        assert 1 <= num <= 2


def test_make_shapes_rejects_bad_sizes(tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_tool().main(['--out-dir', str(tmp_path), '--num-val', '0'])
    assert '--num-val must be >= 1' in capsys.readouterr().err
