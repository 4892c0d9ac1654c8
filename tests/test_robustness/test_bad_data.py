"""Bad data on the quick-start config: skipped with the file named during
training, reported (never skipped) in evaluation, or rejected up front."""
import copy
import importlib.util
import multiprocessing
import os
import re
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS, init_default_scope
from mmengine.runner import Runner
from robustness_testing import (ROOT, copy_data, load_coco, robust_pipelines,
                                tiny_cfg, write_json)

from ms_rcnn.data_checks import (AnnotationError, BadSampleError,
                                 CheckedLoadImageFromFile, DataWarning,
                                 check_coco_file)
from ms_rcnn.data_checks.dataloader_cfgs import (check_dataloader_cfgs,
                                                 use_checked_loader)
from ms_rcnn.data_checks.loading import SkipCounter, skip_counters


@pytest.fixture
def data(tiny_shapes, tmp_path):
    return copy_data(tiny_shapes, tmp_path / 'shapes')


def _dataset(data, tmp_path, split='train', **dataset):
    cfg = robust_pipelines(tiny_cfg(data, tmp_path / 'work'))
    key = 'train_dataloader' if split == 'train' else 'test_dataloader'
    dataset_cfg = cfg[key].dataset
    dataset_cfg.update(dataset)
    init_default_scope('ms_rcnn')
    return DATASETS.build(dataset_cfg)


def _names(dataset):
    """The image file names, in index order."""
    return [
        os.path.basename(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset))
    ]


def _all_samples(dataset):
    """Every index once, as training reads them: the file names seen and
    the skip warnings emitted."""
    with pytest.warns(DataWarning) as record:
        seen = [
            os.path.basename(dataset[i]['data_samples'].img_path)
            for i in range(len(dataset))
        ]
    return seen, [str(w.message) for w in record if w.category is DataWarning]


def test_missing_image_is_skipped_in_training(data, tmp_path):
    missing = os.path.join(data['img_dir'], 'train_000001.png')
    os.remove(missing)
    dataset = _dataset(data, tmp_path)
    seen, warned = _all_samples(dataset)
    # 8 samples served, none of them the missing file; every time its
    # index came up, one warning named it and another index was fetched.
    assert len(seen) == 8 and 'train_000001.png' not in seen
    assert warned and set(warned) == {
        f'skipping sample {missing}: image file does not exist'
    }


def _corrupt(content):
    """Complete (it ends with PNG's IEND chunk) but undecodable."""
    return b'\x89PNG\r\n\x1a\n' + b'\x00' * 50 + content[-12:]


def _damage(path, damage):
    with open(path, 'rb') as f:
        content = f.read()
    with open(path, 'wb') as f:
        f.write(damage(content))


@pytest.mark.parametrize('damage, problem', [
    (_corrupt, 'image file is corrupt'),
    (lambda b: b[:len(b) // 2], 'image file is truncated'),
    (lambda b: b'', 'image file is empty'),
])
def test_broken_image_is_rejected_with_its_name(data, tmp_path, damage,
                                                problem):
    path = os.path.join(data['img_dir'], 'train_000002.png')
    _damage(path, damage)
    dataset = _dataset(
        data,
        tmp_path,
        pipeline=[dict(type='CheckedLoadImageFromFile', skip_bad=False)])
    index = _names(dataset).index('train_000002.png')
    with pytest.raises(BadSampleError) as info:
        dataset[index]
    assert str(info.value) == f'{path}: {problem}'
    assert dataset[index - 1]['img'].shape == (128, 128, 3)


@pytest.mark.parametrize('method, workers', [('fork', 2), ('spawn', 1)])
def test_skip_counter_is_shared_with_worker_processes(method, workers):
    # Set before the counter is built, as mmengine's Runner does.
    original = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        counter = SkipCounter()
        processes = [
            multiprocessing.Process(target=counter.add) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
    finally:
        multiprocessing.set_start_method(original, force=True)
    assert counter.pop() == workers
    assert counter.pop() == 0


def test_copied_skip_counter_counts_on_its_own():
    counter = SkipCounter()
    counter.add()
    copied = copy.deepcopy(counter)  # as in a copied dataset
    copied.add()
    copied.add()
    assert (counter.pop(), copied.pop()) == (1, 2)


def test_skips_are_counted_through_dataset_wrappers(data, tmp_path,
                                                    monkeypatch):
    _damage(os.path.join(data['img_dir'], 'train_000002.png'), _corrupt)
    cfg = robust_pipelines(tiny_cfg(data, tmp_path))
    dataset = cfg.train_dataloader.dataset
    init_default_scope('ms_rcnn')
    wrapped = DATASETS.build(
        dict(
            type='RepeatDataset',
            times=2,
            dataset=dict(type='ConcatDataset', datasets=[dataset, dataset])))
    names = _names(wrapped.dataset.datasets[0])
    good = names.index('train_000000.png')
    monkeypatch.setattr(BaseDataset, '_rand_another', lambda self: good)
    bad = names.index('train_000002.png')
    with pytest.warns(DataWarning):
        for index in (bad, len(names) + bad):  # in each concatenated copy
            wrapped[index]
    counters = skip_counters(wrapped)
    assert len(counters) == 4  # two datasets, two checked transforms each
    assert sum(c.pop() for c in counters) == 2


@pytest.mark.slow
@pytest.mark.parametrize('num_workers', [0, 2])
def test_training_log_names_the_skipped_image_and_counts_per_epoch(
        data, tmp_path, monkeypatch, num_workers):
    path = os.path.join(data['img_dir'], 'train_000002.png')
    _damage(path, _corrupt)
    # ...and an annotation without segmentation on another image.
    coco = load_coco(data)
    images = {img['id']: img['file_name'] for img in coco['images']}
    empty = next(a for a in coco['annotations']
                 if images[a['image_id']] == 'train_000004.png')
    empty['segmentation'] = []
    write_json(data['train_ann'], coco)
    names = _names(_dataset(data, tmp_path))
    x, y, w, h = empty['bbox']
    # A skipped index is replaced by this good one (mmengine draws one at
    # random, which could be the corrupt one again): every epoch visits
    # the corrupt image once, so each epoch skips exactly 1 sample.
    good = names.index('train_000000.png')
    monkeypatch.setattr(BaseDataset, '_rand_another', lambda self: good)
    cfg = robust_pipelines(tiny_cfg(data, tmp_path / 'work', batch_size=4))
    cfg.train_dataloader.dataset.type = 'CocoDatasetWithAnnIds'
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.train_dataloader.num_workers = num_workers
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks.append(dict(type='SkippedSampleHook'))
    # As under PYTHONWARNINGS=ignore; forked workers inherit the filter.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        Runner.from_cfg(cfg).train()
    log, = (tmp_path / 'work').glob('*/*.log')
    text = log.read_text()
    assert f'WARNING - skipping sample {path}: image file is corrupt' in text
    dropped = os.path.join(data['img_dir'], 'train_000004.png')
    assert (f'WARNING - {dropped} (image id {empty["image_id"]}): dropped '
            f'annotation id {empty["id"]} (box {[x, y, x + w, y + h]}): '
            'no segmentation') in text
    counts = re.findall(
        r'WARNING - epoch (\d): (\d+) training sample\(s\) skipped, '
        r'(\d+) instance\(s\) dropped', text)
    assert counts == [('1', '1', '1'), ('2', '1', '1')]


def test_image_size_differs_from_annotation(data, tmp_path):
    coco = load_coco(data)
    coco['images'][0].update(height=64, width=96)
    write_json(data['train_ann'], coco)
    path = os.path.join(data['img_dir'], coco['images'][0]['file_name'])
    dataset = _dataset(data, tmp_path)
    index = _names(dataset).index(coco['images'][0]['file_name'])
    with pytest.warns(DataWarning) as record:
        out = dataset[index]
    assert str(record[0].message) == (
        f'skipping sample {path}: image is 128x128 but its annotation says '
        '96x64')
    assert out['data_samples'].img_path != path


def test_empty_and_malformed_annotation_files(data, tmp_path):
    ann = data['train_ann']
    open(ann, 'w').close()
    with pytest.raises(AnnotationError) as info:
        check_coco_file(ann)
    assert str(info.value) == f'{ann}: annotation file is empty'
    with open(ann, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(AnnotationError, match=f'^{ann}: not valid JSON'):
        check_coco_file(ann)
    write_json(ann, dict(images=[], annotations=[]))
    with pytest.raises(
            AnnotationError,
            match=f'^{ann}: no list under key.s. categories$'):
        check_coco_file(ann)
    # The train tool checks before mmdet parses: the same error, not
    # pycocotools' JSONDecodeError.
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = tiny_cfg(data, tmp_path / 'work')
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    with pytest.raises(AnnotationError, match=f'^{ann}: no list under'):
        train.main([config])


def test_unknown_category_ids_are_an_error(data):
    coco = load_coco(data)
    coco['annotations'][3]['category_id'] = 99
    coco['annotations'][5]['category_id'] = 0
    ids = [coco['annotations'][i]['id'] for i in (3, 5)]
    ann = write_json(data['train_ann'], coco)
    with pytest.raises(AnnotationError) as info:
        check_coco_file(ann)
    assert str(info.value) == (
        f'{ann}: annotation id(s) {ids[0]} (category_id 99), {ids[1]} '
        '(category_id 0) use a category_id that is not in "categories" '
        '(known: [1, 2, 3])')


def _break_annotations(data):
    """One annotation of each droppable kind, on images 1..4 (each has more
    than one); image 5 loses its annotations. Returns {problem: (file
    name, ann id)}."""
    coco = load_coco(data)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    names = {img['id']: img['file_name'] for img in coco['images']}
    zero, short, outside, empty = (by_image[i][0] for i in (1, 2, 3, 4))
    zero['bbox'][2] = 0
    short['segmentation'] = [[10, 10, 20, 20]]
    outside['segmentation'] = [[200, 200, 220, 200, 220, 220]]
    empty['segmentation'] = []
    coco['annotations'] = [
        a for a in coco['annotations'] if a['image_id'] != 5
    ]
    write_json(data['train_ann'], coco)
    return {
        'zero-area box': (names[1], zero['id']),
        'polygon with fewer than 3 points': (names[2], short['id']),
        'mask outside the image': (names[3], outside['id']),
        'no segmentation': (names[4], empty['id']),
        'image without annotations': (names[5], None),
    }


def test_droppable_annotations_are_reported(data):
    expected = _break_annotations(data)
    with pytest.warns(DataWarning) as record:
        problems = check_coco_file(data['train_ann'])
    assert {
        k: v
        for k, v in problems.items() if v
    } == {
        k: [v]
        for k, v in expected.items()
    }
    messages = sorted(str(w.message) for w in record)
    ann = data['train_ann']
    name, ann_id = expected['zero-area box']
    assert (f'{ann}: 1 x zero-area box, not loaded: {name} '
            f'(ann id {ann_id})') in messages
    assert f'{ann}: 1 x image without annotations, not loaded: ' \
        f'{expected["image without annotations"][0]}' in messages
    name, ann_id = expected['no segmentation']
    assert (f'{ann}: 1 x no segmentation, not loaded: {name} '
            f'(ann id {ann_id})') in messages
    assert len(messages) == 5


def test_sanitize_drops_bad_instances(data, tmp_path):
    expected = _break_annotations(data)
    dataset = _dataset(
        data, tmp_path, type='CocoDatasetWithAnnIds', filter_cfg=None)
    names = _names(dataset)
    # mmdet drops the zero-area box itself; the sanitizer drops the rest
    # (the instance without segmentation made LoadAnnotations raise
    # KeyError: 'mask').
    for problem in ('no segmentation', 'polygon with fewer than 3 points',
                    'mask outside the image'):
        name, ann_id = expected[problem]
        index = names.index(name)
        info = dataset.get_data_info(index)
        instances = info['instances']
        assert instances[0]['ann_id'] == ann_id
        with pytest.warns(DataWarning) as record:
            out = dataset[index]
        assert [str(w.message) for w in record] == [
            f'{data["img_dir"]}/{name} (image id {info["img_id"]}): dropped '
            f'annotation id {ann_id} (box {instances[0]["bbox"]}): {problem}'
        ]
        assert len(out['data_samples'].gt_instances) == len(instances) - 1
        assert out['data_samples'].gt_instances.labels.tolist() == [
            i['bbox_label'] for i in instances[1:]
        ]
    # Image 5 has no annotations left: skipped, named.
    empty = expected['image without annotations'][0]
    with pytest.warns(
            DataWarning,
            match=f'skipping sample .*{empty}: '
            'no usable annotations'):
        out = dataset[names.index(empty)]
    assert os.path.basename(out['data_samples'].img_path) != empty


def _drop_the_third_of_image_3(data):
    """Image 3 (``train_000002.png``, annotations 7 to 10): mmdet leaves out
    its first annotation (zero-area box) and the sanitizer drops its third
    (no segmentation), the second of the instances that mmdet keeps.
    Returns the image's annotations."""
    coco = load_coco(data)
    anns = [a for a in coco['annotations'] if a['image_id'] == 3]
    assert [a['id'] for a in anns] == [7, 8, 9, 10]
    anns[0]['bbox'][2] = 0
    anns[2]['segmentation'] = []
    write_json(data['train_ann'], coco)
    return anns


@pytest.mark.parametrize('dataset_type, named', [
    ('CocoDatasetWithAnnIds', 'annotation id 9'),
    # mmdet's dataset keeps no annotation ids: the box tells which.
    ('CocoDataset', 'an instance'),
])
def test_dropped_instance_is_named_by_image_and_annotation_id_or_box(
        data, tmp_path, dataset_type, named):
    anns = _drop_the_third_of_image_3(data)
    dataset = _dataset(data, tmp_path, type=dataset_type)
    index = _names(dataset).index('train_000002.png')
    instances = dataset.get_data_info(index)['instances']
    assert len(instances) == 3
    x, y, w, h = anns[2]['bbox']
    with pytest.warns(DataWarning) as record:
        out = dataset[index]
    assert [str(w.message) for w in record] == [
        f'{data["img_dir"]}/train_000002.png (image id 3): dropped {named} '
        f'(box {[x, y, x + w, y + h]}): no segmentation'
    ]
    # Two instances are left: those of annotations 8 and 10.
    assert len(out['data_samples'].gt_instances) == 2


def test_evaluation_reports_instead_of_skipping(data, tmp_path):
    missing = os.path.join(data['img_dir'], 'val_000001.png')
    os.remove(missing)
    dataset = _dataset(data, tmp_path, split='test')
    names = _names(dataset)
    with pytest.raises(BadSampleError) as info:
        dataset[names.index('val_000001.png')]
    assert str(info.value) == f'{missing}: image file does not exist'
    # An image without objects is a valid test sample: kept, no warning.
    coco = load_coco(data, 'val')
    coco['annotations'] = [
        a for a in coco['annotations'] if a['image_id'] != 1
    ]  # val_000000.png
    write_json(data['val_ann'], coco)
    dataset = _dataset(data, tmp_path, split='test')
    out = dataset[_names(dataset).index('val_000000.png')]
    assert len(out['data_samples'].gt_instances) == 0
    # ...and the test tool's check lists what the metric will not see.
    cfg = tiny_cfg(data, tmp_path / 'work')
    with pytest.warns(
            DataWarning,
            match='1 x image without annotations, '
            'not loaded: val_000000.png'):
        check_dataloader_cfgs(cfg, ('test_dataloader', ))


def test_truncated_jpeg(tmp_path):
    """cv2 decodes a truncated JPEG into a partly grey image without an
    error; the missing end-of-image marker gives it away."""
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    path = str(tmp_path / 'photo.jpg')
    cv2.imwrite(path, img)
    load = CheckedLoadImageFromFile(skip_bad=False)
    assert load(dict(img_path=path, height=64,
                     width=64))['img'].shape == (64, 64, 3)
    with open(path, 'r+b') as f:
        f.truncate(f.seek(0, 2) - 100)
    with pytest.raises(
            BadSampleError, match=f'^{path}: image file is truncated$'):
        load(dict(img_path=path))
    with pytest.warns(
            DataWarning,
            match=f'skipping sample {path}: image '
            'file is truncated'):
        assert CheckedLoadImageFromFile()(dict(img_path=path)) is None


def test_config_check_follows_wrappers_and_skips_other_formats(data, tmp_path):
    open(data['train_ann'], 'w').close()
    cfg = tiny_cfg(data, tmp_path / 'work')
    cfg.train_dataloader.dataset = dict(
        type='RepeatDataset', times=2, dataset=cfg.train_dataloader.dataset)
    with pytest.raises(AnnotationError, match='annotation file is empty'):
        check_dataloader_cfgs(cfg, ('train_dataloader', ))
    # VOC's XML datasets are not COCO files: left to their dataset.
    cfg.train_dataloader.dataset.dataset.type = 'VOCDataset'
    check_dataloader_cfgs(cfg, ('train_dataloader', ))


def test_use_checked_loader_keeps_the_loader_arguments():
    backend = dict(backend='local')
    cfg = ConfigDict(
        val_dataloader=dict(
            dataset=dict(
                type='RepeatDataset',
                dataset=dict(pipeline=[
                    dict(
                        type='mmdet.LoadImageFromFile',
                        backend_args=backend,
                        ignore_empty=True),
                    dict(type='Resize', scale=(8, 8))
                ]))),
        test_dataloader=dict(
            dataset=dict(
                type='ConcatDataset',
                datasets=[
                    dict(pipeline=[dict(type='LoadImageFromFile')]),
                    dict(pipeline=[dict(type='CheckedLoadImageFromFile')])
                ])),
        train_dataloader=dict(
            dataset=dict(pipeline=[dict(type='LoadImageFromFile')])))
    assert use_checked_loader(cfg) == 2
    assert cfg.val_dataloader.dataset.dataset.pipeline == [
        dict(
            type='ms_rcnn.CheckedLoadImageFromFile',
            skip_bad=False,
            backend_args=backend),
        dict(type='Resize', scale=(8, 8))
    ]
    first, second = cfg.test_dataloader.dataset.datasets
    assert first.pipeline == [
        dict(type='ms_rcnn.CheckedLoadImageFromFile', skip_bad=False)
    ]
    # Already checked, and the training loader is not among the keys.
    assert second.pipeline == [dict(type='CheckedLoadImageFromFile')]
    assert cfg.train_dataloader.dataset.pipeline == [
        dict(type='LoadImageFromFile')
    ]


@pytest.mark.slow
def test_test_tool_names_a_corrupt_image(data, tmp_path):
    """The shipped test pipeline keeps mmdet's loader (for DetInferencer);
    tools/test.py still stops at a corrupt image with its name."""
    path = os.path.join(data['img_dir'], 'val_000001.png')
    _damage(path, _corrupt)
    cfg = tiny_cfg(data, tmp_path / 'work')
    assert cfg.test_dataloader.dataset.pipeline[0].type == 'LoadImageFromFile'
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    from ms_rcnn.registry import MODELS
    init_default_scope('ms_rcnn')
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), ckpt)
    spec = importlib.util.spec_from_file_location('test_tool',
                                                  ROOT / 'tools' / 'test.py')
    test_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_tool)
    with pytest.raises(BadSampleError) as info:
        test_tool.main([config, ckpt])
    assert str(info.value) == f'{path}: image file is corrupt'
