"""Text quick-start configs: deltas on the shipped text configs, one base
per dataset, and the whole chain on a few tiny generated images of each
set: raw files, the shipped converter, the config, training on polygon
masks (MaskIoU targets included) and HmeanIoUMetric on the predictions."""
import ast
import json
import math

import numpy as np
import pytest
import torch
from mmdet.structures.mask import PolygonMasks
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed
from ms_rcnn_testing import make_batch, predict

from ms_rcnn.data_preparation import (convert_ctw1500, convert_icdar2015,
                                      generate_text_dataset)
from ms_rcnn.data_preparation.synthetic_text import LAYOUTS
from ms_rcnn.registry import DATASETS, MODELS

QUICKSTART = 'configs/textdet/quickstart/{}_r18_fpn_quickstart_{}.py'
SHIPPED = 'configs/textdet/{}_r50_fpn_160e_{}.py'
PAIRS = [(model, kind) for model in ('ms-rcnn', 'mask-rcnn')
         for kind in ('icdar2015', 'ctw1500')]


def without(cfg, *keys):
    """The config as a plain dict, without the top-level ``keys``."""
    return {k: v for k, v in cfg.to_dict().items() if k not in keys}


def unsized(loader):
    """A dataloader's config as a plain dict, without where its files are
    (``data_root``), its batch size and workers, and its transforms' image
    sizes (``scale``, ``crop_size``) and default ``backend_args``."""
    loader = {
        k: v
        for k, v in loader.to_dict().items()
        if k not in ('batch_size', 'num_workers', 'persistent_workers')
    }
    dataset = {k: v for k, v in loader.pop('dataset').items()
               if k != 'data_root'}
    dataset['pipeline'] = [{
        k: v
        for k, v in transform.items()
        if k not in ('scale', 'crop_size', 'backend_args')
    } for transform in dataset['pipeline']]
    return dict(loader, dataset=dataset)


@pytest.mark.parametrize('model, kind', PAIRS)
def test_quickstart_keeps_the_shipped_recipe_but_what_the_cpu_needs(
        model, kind):
    ours = Config.fromfile(QUICKSTART.format(model, kind))
    shipped = Config.fromfile(SHIPPED.format(model, kind))
    # Inherited as shipped: the text recipe and the evaluation.
    for key in ('default_scope', 'custom_hooks', 'val_cfg', 'test_cfg',
                'visualizer', 'auto_scale_lr', 'metainfo'):
        assert ours.get(key) == shipped.get(key), key
    root = f'data/synthtext/{kind}/'
    ours_eval, shipped_eval = (cfg.val_evaluator.to_dict()
                               for cfg in (ours, shipped))
    assert ours_eval.pop('ann_file') == f'{root}{kind}_test.json'
    shipped_eval.pop('ann_file')
    assert ours_eval == shipped_eval
    assert ours.model.type == shipped.model.type
    assert (ours.model.rpn_head.anchor_generator ==
            shipped.model.rpn_head.anchor_generator)
    assert ours.model.test_cfg.rcnn == shipped.model.test_cfg.rcnn
    assert ours.model.data_preprocessor == shipped.model.data_preprocessor
    # The same loaders, datasets and transforms, settings included, but
    # for where the files are, the batches and workers, and the images'
    # sizes (by behaviour in test_leaves_load_the_converted_set_*).
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert unsized(ours[loader]) == unsized(shipped[loader]), loader
    assert ours.test_pipeline == ours.val_dataloader.dataset.pipeline
    # What the CPU needs (README.md): a small backbone from scratch (nothing
    # to download), few RoIs, a short schedule; and where
    # tools/quickstart.py writes the data.
    assert ours.model.backbone.depth == 18 and ours.model.backbone.init_cfg \
        is None
    assert ours.model.train_cfg.rcnn.sampler.num == 32
    assert ours.train_cfg.max_epochs < shipped.train_cfg.max_epochs
    assert ours.train_dataloader.dataset.data_root == root
    assert ours.val_dataloader.dataset.data_root == root


def test_ms_rcnn_twin_adds_only_the_shipped_maskiou_head_resized():
    shipped_head = Config.fromfile(SHIPPED.format(
        'ms-rcnn', 'icdar2015')).model.roi_head.mask_iou_head.to_dict()
    for kind in ('icdar2015', 'ctw1500'):
        ms = Config.fromfile(QUICKSTART.format('ms-rcnn', kind))
        mask = Config.fromfile(QUICKSTART.format('mask-rcnn', kind))
        assert without(ms, 'model') == without(mask, 'model')
        ms_model, mask_model = ms.model.to_dict(), mask.model.to_dict()
        head = ms_model['roi_head'].pop('mask_iou_head')
        for m in (ms_model, mask_model):
            m.pop('type')
            m.pop('_scope_', None)
            m['roi_head'].pop('type')
        ms_model['train_cfg']['rcnn'].pop('mask_thr_binary')
        assert ms_model == mask_model
        # The shipped twin's head, given only its size (the numbers: by
        # behaviour in the next test): its training options stay the
        # head's defaults, the paper's, as the shipped config's.
        sizes = {k: head.pop(k) for k in list(head) if k not in shipped_head}
        assert head == shipped_head
        assert set(sizes) == {
            'num_convs', 'in_channels', 'conv_out_channels', 'fc_out_channels'
        }


def test_twins_detect_alike_and_size_the_maskiou_head_like_the_mask_head():
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    # The model of both sets (they differ in the test-time polygons only).
    ms = MODELS.build(
        Config.fromfile(QUICKSTART.format('ms-rcnn', 'ctw1500')).model)
    mask = MODELS.build(
        Config.fromfile(QUICKSTART.format('mask-rcnn', 'ctw1500')).model)
    # The twin's weights are MS R-CNN's without its MaskIoU head, key for
    # key (strict loading).
    mask.load_state_dict({
        k: v
        for k, v in ms.state_dict().items()
        if not k.startswith('roi_head.mask_iou_head.')
    })
    # Sized like the mask head: 2 convs of the FPN's 64 channels (65 in,
    # with the mask), 64 x 7 x 7 after the strided conv -> 256 -> 256 wide
    # fcs, and one IoU for the one class.
    assert len(ms.roi_head.mask_iou_head.convs) == len(
        ms.roi_head.mask_head.convs) == 2
    convs = (65 * 64 * 9 + 64) + (64 * 64 * 9 + 64)
    fcs = (64 * 7 * 7 * 256 + 256) + (256 * 256 + 256) + (256 * 1 + 1)
    assert sum(p.numel() for p in ms.roi_head.mask_iou_head.parameters()) \
        == convs + fcs
    # Both detect the same instances; MS R-CNN scores their masks with the
    # MaskIoU head, on the mask branch's RoI features.
    batch = make_batch(seed=1)
    mine, theirs = predict(ms, batch), predict(mask, batch)
    assert len(mine) == len(theirs) > 0
    for key in ('bboxes', 'labels', 'scores', 'masks', 'maskness'):
        assert torch.equal(mine[key], theirs[key]), key
    assert len(mine.polygons) == len(theirs.polygons)
    assert all(
        np.array_equal(a, b) for a, b in zip(mine.polygons, theirs.polygons))
    assert 'mask_scores' not in theirs
    assert ((mine.mask_scores >= 0) & (mine.mask_scores <= mine.scores)).all()
    assert not torch.equal(mine.mask_scores, mine.scores)


@pytest.mark.parametrize('model, kind', PAIRS)
def test_leaf_holds_its_base_and_only_the_model(model, kind):
    with open(QUICKSTART.format(model, kind)) as f:
        tree = ast.parse(f.read())
    names = [t.id for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets]
    # Mask R-CNN is the base's model; MS R-CNN adds its MaskIoU head.
    assert names == (['_base_', 'model'] if model == 'ms-rcnn' else
                     ['_base_'])
    assert ast.literal_eval(tree.body[0].value) == [
        f'./_base_/textdet_quickstart_{kind}.py'
    ]


@pytest.mark.parametrize('model, kind', PAIRS)
def test_dumped_config_holds_the_shipped_keys_and_no_helper(
        model, kind, tmp_path):
    ours = Config.fromfile(QUICKSTART.format(model, kind))
    ours.dump(str(tmp_path / 'dumped.py'))
    dumped = Config.fromfile(str(tmp_path / 'dumped.py'))
    # The bases' helpers (channels, image size, epochs) are not keys: the
    # dumped config has the shipped config's keys, no more.
    shipped = Config.fromfile(SHIPPED.format(model, kind))
    assert sorted(dumped.keys()) == sorted(shipped.keys())
    assert dumped.to_dict() == ours.to_dict()


def write_converted_set(root, kind, num_train, num_test):
    """A synthetic set of ``kind`` of 128 px images in ``root``, converted
    by the shipped converter to {kind}_{train,test}.json there.

    Returns:
        dict: ``generate_text_dataset``'s counts.
    """
    counts = generate_text_dataset(str(root), kind, seed=0,
                                   num_train=num_train, num_test=num_test,
                                   img_size=128)
    for split in ('train', 'test'):
        img_dir, ann_dir = LAYOUTS[kind][split]
        coco = convert_icdar2015(str(root), img_dir, ann_dir) if (
            kind == 'icdar2015') else convert_ctw1500(
                str(root), img_dir, ann_dir, split)
        (root / f'{kind}_{split}.json').write_text(json.dumps(coco))
    return counts


@pytest.mark.parametrize('kind', ['icdar2015', 'ctw1500'])
def test_leaves_load_the_converted_set_at_the_quickstart_sizes(
        kind, tmp_path):
    write_converted_set(tmp_path, kind, num_train=5, num_test=2)
    # The twins share their data (test_ms_rcnn_twin_adds_only_*).
    cfg = Config.fromfile(QUICKSTART.format('ms-rcnn', kind))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(tmp_path) + '/'
    init_default_scope('ms_rcnn')

    def ids(split):
        with open(tmp_path / f'{kind}_{split}.json') as f:
            return [img['id'] for img in json.load(f)['images']]

    train = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    # No worker process: loading a 256 px image costs less.
    assert train.num_workers == 0
    batches = list(train)
    # 4 images a batch, drawn shuffled from the training file.
    assert [len(b['inputs']) for b in batches] == [4, 1]
    drawn = [s.img_id for b in batches for s in b['data_samples']]
    assert sorted(drawn) == sorted(ids('train')) and drawn != ids('train')
    # 128 px images resized to 192..320 px, each side on its own, then
    # cropped to 256 px; the words stay polygons.
    sides = [side for b in batches for img in b['inputs']
             for side in img.shape[1:]]
    assert min(sides) >= 192 and max(sides) == 256 and len(set(sides)) > 2
    assert all(
        isinstance(s.gt_instances.masks, PolygonMasks)
        for b in batches for s in b['data_samples'])

    # Validation and test: the test file in order, one image a batch,
    # resized to 256 px with the metadata of the shipped test pipeline.
    meta_keys = set(
        Config.fromfile(SHIPPED.format('ms-rcnn', kind)).test_pipeline[-1]
        .meta_keys)
    for loader in ('val_dataloader', 'test_dataloader'):
        batches = list(Runner.build_dataloader(cfg[loader], seed=0))
        assert [len(b['inputs']) for b in batches] == [1, 1]
        samples = [b['data_samples'][0] for b in batches]
        assert [s.img_id for s in samples] == ids('test')
        assert all(b['inputs'][0].shape == (3, 256, 256) for b in batches)
        assert all(s.scale_factor == (2., 2.) for s in samples)
        assert all(set(s.metainfo) == meta_keys for s in samples)


@pytest.fixture(scope='module', params=['icdar2015', 'ctw1500'])
def tiny_set(request, tmp_path_factory):
    """2 training and 2 test images of 128 px of one synthetic set,
    converted by the shipped converter."""
    kind = request.param
    root = tmp_path_factory.mktemp(f'tiny_{kind}')
    return kind, root, write_converted_set(root, kind, 2, 2)


# Losses of the first training step of each text quick start on the tiny
# set below (seed 0, its 2 training images in one batch, the configs'
# RandomResize and RandomCrop), on CPU. Recorded from the code before the
# MaskIoU head's study options moved to projects/mask_score_study: the
# shipped configs train as before.
FIRST_STEP_LOSSES = {
    ('ms-rcnn', 'icdar2015'): dict(
        loss_rpn_cls=0.6936,
        loss_rpn_bbox=0.013524,
        loss_cls=0.732441,
        loss_bbox=0.004192,
        loss_mask=1.84906,
        loss_mask_iou=0.08757),
    ('mask-rcnn', 'icdar2015'): dict(
        loss_rpn_cls=0.692065,
        loss_rpn_bbox=0.014236,
        loss_cls=0.641698,
        loss_bbox=0.06179,
        loss_mask=1.202109),
    ('ms-rcnn', 'ctw1500'): dict(
        loss_rpn_cls=0.694079,
        loss_rpn_bbox=0.017117,
        loss_cls=0.714101,
        loss_bbox=0.003039,
        loss_mask=1.446741,
        loss_mask_iou=0.038996),
    ('mask-rcnn', 'ctw1500'): dict(
        loss_rpn_cls=0.69262,
        loss_rpn_bbox=0.017246,
        loss_cls=0.654802,
        loss_bbox=0.083287,
        loss_mask=1.193327),
}


@pytest.mark.slow
@pytest.mark.parametrize('model', ['ms-rcnn', 'mask-rcnn'])
def test_first_step_losses_are_the_recorded_ones(tiny_set, model):
    kind, root, _ = tiny_set
    cfg = Config.fromfile(QUICKSTART.format(model, kind))
    cfg.train_dataloader.dataset.data_root = str(root) + '/'
    init_default_scope('ms_rcnn')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    # As tests/test_configs/test_quickstart.py steps: the batch drawn after
    # seeding (the random transforms), the model built and initialised
    # after seeding again, the step's samplers seeded by torch's seed.
    set_random_seed(0)
    batch = pseudo_collate([dataset[0], dataset[1]])
    set_random_seed(0)
    net = MODELS.build(cfg.model)
    net.init_weights()
    optim_wrapper = build_optim_wrapper(net, cfg.optim_wrapper)
    net.train()
    torch.manual_seed(0)
    log_vars = net.train_step(batch, optim_wrapper)
    expected = FIRST_STEP_LOSSES[model, kind]
    assert set(expected) == {k for k in log_vars if k.startswith('loss_')}
    assert {k: float(log_vars[k]) for k in expected} == pytest.approx(
        expected, rel=1e-3, abs=1e-5)


def test_whole_chain_on_tiny_generated_images(tiny_set, tmp_path):
    kind, root, counts = tiny_set
    cfg = Config.fromfile(QUICKSTART.format('ms-rcnn', kind))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root) + '/'
    cfg.train_dataloader.batch_size = 2
    cfg.val_evaluator.ann_file = str(root / f'{kind}_test.json')
    cfg.work_dir = str(tmp_path)
    cfg.randomness = dict(seed=0)
    # The configs' epoch loop (1 iteration of 2 images), evaluated apart.
    cfg.train_cfg.update(max_epochs=1, val_begin=2)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.pop('name')
    runner = Runner.from_cfg(cfg)

    # The converter read 4 or 14 points a word; the training targets stay
    # polygons through RandomResize and RandomCrop (a cropped quadrilateral
    # can have more corners, a cropped curved line two parts).
    dataset = runner.train_dataloader.dataset
    points = 4 if kind == 'icdar2015' else 14
    parts = []
    for i in (0, 1):
        assert {len(inst['mask'][0]) for inst in
                dataset.get_data_info(i)['instances']} == {2 * points}
        masks = dataset[i]['data_samples'].gt_instances.masks
        assert isinstance(masks, PolygonMasks) and len(masks)
        parts += [len(part) for p in masks.masks for part in p]
    assert min(parts) >= 6
    # Words the crop does not cut keep their points.
    assert 2 * points in parts

    # The MaskIoU head's targets of the training step.
    head = runner.model.roi_head.mask_iou_head
    targets, get_targets = [], head.get_targets

    def recording_get_targets(*args):
        targets.append(get_targets(*args))
        return targets[-1]

    head.get_targets = recording_get_targets
    runner.train()
    for key in ('loss_mask', 'loss_mask_iou', 'loss_cls'):
        assert math.isfinite(
            runner.message_hub.get_scalar(f'train/{key}').current()), key
    # The head learns from IoUs between 0 and 1, not only from 0 or 1.
    assert runner.message_hub.get_scalar(
        'train/loss_mask_iou').current() > 0
    targets = torch.cat(targets)
    assert ((targets > 0) & (targets < 1)).any()

    from ms_rcnn_testing import spy_on_text_metric
    spied = spy_on_text_metric(runner.val_evaluator.metrics[0])
    res = runner.val()
    seen, polygons = spied.results, spied.polygons
    ranked_by_mask_score = [(scores == pred['mask_scores'].numpy()).all()
                            for pred, (_, scores) in spied.predictions]
    # Both test images, each legible word once, do-not-care ones apart.
    assert len(seen) == 2
    legible = counts['test']['words'] - counts['test']['do_not_care']
    assert sum(r['num_gts'] for r in seen) == legible
    assert all(r['ious'].shape[0] == r['num_gts'] for r in seen)
    # MS R-CNN's predictions reach the metric as the config's mask2polygon
    # writes them (quadrilaterals, or contours of 3 points or more),
    # ranked by the mask score.
    assert polygons
    if kind == 'icdar2015':
        assert {len(p) for p in polygons} <= {0, 8}
    else:
        assert all(len(p) == 0 or len(p) % 2 == 0 and len(p) >= 6
                   for p in polygons)
    assert len(ranked_by_mask_score) == 2 and all(ranked_by_mask_score)
    assert set(res) == {'icdar/precision', 'icdar/recall', 'icdar/hmean',
                        'icdar/best_score_thr'}
