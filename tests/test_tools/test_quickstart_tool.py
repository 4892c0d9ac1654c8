"""tools/quickstart.py and its tasks (quickstart_shapes.py,
quickstart_textdet.py): the configs they load, the pictures they draw and
the summaries they write."""
import glob
import importlib
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from pycocotools import mask as mask_utils

from ms_rcnn import register_all_modules
from ms_rcnn.evaluation.functional import RANKINGS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name='quickstart'):
    """A module of tools/ (not a package: its folder goes on sys.path, as
    when the script runs)."""
    tools = osp.join(ROOT, 'tools')
    if tools not in sys.path:
        sys.path.insert(0, tools)
    return importlib.import_module(name)


def test_load_config_points_everything_at_the_data(tiny_shapes, tmp_path):
    shapes = load_tool('quickstart_shapes')
    cfg = shapes.load_config(shapes.MODELS['ms-rcnn'],
                             tiny_shapes['data_root'], str(tmp_path), seed=3,
                             epochs=2)
    root = tiny_shapes['data_root'] + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == root
    for evaluator in cfg.val_evaluator + cfg.test_evaluator:
        assert evaluator.ann_file == root + 'annotations/val.json'
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_epochs == cfg.default_hooks.checkpoint.interval
    assert cfg.train_cfg.max_epochs == 2
    # Evaluated after training, apart from it.
    assert cfg.train_cfg.val_begin == 3


@pytest.mark.parametrize('name', ['ms-rcnn', 'mask-rcnn'])
def test_drawn_row_has_a_title_and_every_image_upscaled(
        name, tiny_shapes, tmp_path):
    shapes = load_tool('quickstart_shapes')
    register_all_modules(init_default_scope=False)
    cfg = shapes.load_config(shapes.MODELS[name], tiny_shapes['data_root'],
                             str(tmp_path / 'work'), seed=0)
    runner = Runner.from_cfg(cfg)
    row = shapes.visualize(runner, name, range(2), str(tmp_path), 0.0,
                           scale=2)
    # A 24-pixel title over two 128 px images drawn at twice their size.
    assert row.shape == (24 + 256, 512, 3)
    title = row[:24]
    assert (title == 255).mean() > 0.5 and (title < 128).any()
    np.testing.assert_array_equal(
        cv2.imread(osp.join(str(tmp_path), f'{name}.png')), row)


def test_comparison_keeps_earlier_rows_of_models_not_retrained(tmp_path):
    common = load_tool('quickstart_common')
    vis = str(tmp_path)

    def row(value, width=6):
        return np.full((2, width, 3), value, np.uint8)

    # Earlier runs drew 'first' as wide as this run's row, 'narrow' of
    # fewer images, 'second' and 'undrawn' of the models this run
    # retrains; 'gone' was never drawn.
    for name, value, width in (('first', 10, 6), ('narrow', 20, 3),
                               ('second', 99, 6), ('undrawn', 98, 6)):
        cv2.imwrite(osp.join(vis, f'{name}.png'), row(value, width))
    common.write_comparison(vis,
                            ['first', 'narrow', 'gone', 'second', 'undrawn'],
                            {'second': row(30)}, ['second', 'undrawn'])
    picture = cv2.imread(osp.join(vis, 'comparison.png'))
    np.testing.assert_array_equal(picture, np.concatenate([row(10),
                                                           row(30)]))
    # 'undrawn' was retrained without a picture: its old row showed the
    # model it replaced.
    assert not osp.exists(osp.join(vis, 'undrawn.png'))
    assert osp.exists(osp.join(vis, 'first.png'))

    # A run that draws nothing leaves no picture of earlier models.
    common.write_comparison(vis, ['first', 'second'], {}, ['second'])
    assert not osp.exists(osp.join(vis, 'comparison.png'))
    assert not osp.exists(osp.join(vis, 'second.png'))


def test_zero_epochs_is_refused_by_name(capsys):
    for task in ('shapes', 'textdet'):
        with pytest.raises(SystemExit):
            load_tool().parse_args(['--task', task, '--epochs', '0'])
        assert 'argument --epochs: 0: must be >= 1' in capsys.readouterr().err
    assert load_tool().parse_args(['--epochs', '1']).epochs == 1


def test_task_picks_its_own_folders():
    tool = load_tool()
    shapes = tool.parse_args([])
    assert (shapes.task, shapes.work_dir, shapes.data_root) == (
        'shapes', 'work_dirs/quickstart', 'data/shapes')
    text = tool.parse_args(['--task', 'textdet'])
    assert (text.work_dir, text.data_root) == (
        'work_dirs/quickstart_textdet', 'data/synthtext')
    assert text.datasets == ['icdar2015', 'ctw1500']
    assert tool.parse_args(['--task', 'textdet', '--data-root',
                            'elsewhere']).data_root == 'elsewhere'


def test_load_text_config_evaluates_by_both_scores(tmp_path):
    textdet = load_tool('quickstart_textdet')
    path = osp.join(textdet.CONFIG_DIR,
                    textdet.MODELS['ms-rcnn'].format('ctw1500'))
    cfg = textdet.load_config(path, 'some/where', 'ctw1500', str(tmp_path),
                              seed=2, epochs=3)
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == 'some/where/'
    ann = 'some/where/ctw1500_test.json'
    assert [(e.type, e.ann_file) for e in cfg.val_evaluator] == [
        ('HmeanIoUMetric', ann), ('CocoMetric', ann),
        ('MaskIoUCalibrationMetric', ann)]
    assert cfg.val_evaluator[0].rankings == RANKINGS
    assert cfg.val_evaluator[0].polygon_mode == 'contour'
    assert cfg.test_evaluator == cfg.val_evaluator
    assert cfg.randomness == dict(seed=2)
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.val_begin == 4
    assert cfg.default_hooks.checkpoint.interval == 3
    # The cosine decay ends with the shorter schedule.
    assert cfg.param_scheduler[1].end == cfg.param_scheduler[1].T_max == 3
    assert 'name' not in cfg.visualizer


def rect(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


# One 100 x 60 test image: words A and B, a do-not-care region D.
WORD_A, WORD_B = rect(10, 10, 40, 20), rect(50, 10, 90, 20)
DNC = rect(10, 35, 90, 55)
# Predictions: A and B found, a false positive between them and D, and a
# polygon inside D (discarded by the hmean, ignored by COCO).
PREDS = [WORD_A, WORD_B, rect(60, 24, 90, 31), rect(20, 40, 50, 50)]
CLASS_SCORES = [0.9, 0.6, 0.3, 0.95]
MASK_SCORES = [0.8, 0.7, 0.75, 0.95]
# What both models of the test below share: the oracles and bounds (1),
# the rooms (0), and no maskness.
BY_TRUE_IOU = dict(
    hmean_oracle=1.0, hmean_oracle_wide=1.0, hmean_quality=1.0,
    hmean_quality_wide=1.0, hmean_maskness=None, hmean_maskness_wide=None,
    hmean_mask_maskness=None, hmean_mask_maskness_wide=None, hmean_upper=1.0,
    segm_mAP_cls=1.0, segm_mAP_oracle=1.0, segm_mAP_quality=1.0,
    segm_mAP_maskness=None, segm_mAP_mask_maskness=None, segm_mAP_upper=1.0,
    room_quality=0.0, room_class=0.0, room_duplicates=0.0)


@pytest.mark.parametrize(
    'mask_scores, expected',
    [
        # MS R-CNN ranks by the mask score. From 0.05 to 0.70 A, B and the
        # false positive count: precision 2/3, recall 2/2, hmean
        # 2 * 2/3 / (2/3 + 1) = 0.8; above 0.70 B drops out (1/2, 1/2:
        # 0.5), above 0.75 the false positive (1/1, 1/2: 2/3). By the
        # class score, above 0.30 only A and B count: hmean 1. CocoMetric
        # ranks masks by the mask score too: A, the false positive, B.
        # Precision 1 up to recall 0.5, 2/3 after: AP (51 + 50 * 2/3) / 101
        # over COCO's 101 recall points, at every IoU (the masks are
        # exact). Box AP ranks by the class score: A and B (exact boxes)
        # before the false positive, AP 1.
        # The oracles score the false positive 0 (it overlaps no word):
        # hmean 1 and AP 1, as the class score's order, so no room; the
        # bounds are 1 too (each word has a detection of its own). No
        # maskness was given: its rankings are null.
        # The polygon inside D matches nothing and lies in a crowd region:
        # left out of the correlations, as COCOeval leaves it out. With
        # IoUs (1, 1, 0) the rank correlation of the mask scores (0.8,
        # 0.7, 0.75) is 0, that of the class scores (0.9, 0.6, 0.3)
        # 1.5 / sqrt(1.5 * 2).
        (MASK_SCORES,
         dict(BY_TRUE_IOU, precision=2 / 3, recall=1.0, hmean=0.8,
              best_score_thr=0.05, hmean_by_class_score=1.0,
              segm_mAP=(51 + 50 * 2 / 3) / 101, bbox_mAP=1.0,
              hmean_cls_wide=1.0, hmean_mask=0.8, hmean_mask_wide=0.8,
              segm_mAP_mask=(51 + 50 * 2 / 3) / 101, captured=None,
              captured_upper=None, spearman_mask_score_iou=0.0,
              spearman_cls_score_iou=1.5 / 3**0.5)),
        # Mask R-CNN has no mask score: everything ranks by the class
        # score, which puts A and B before the false positive (AP 1).
        (None,
         dict(BY_TRUE_IOU, precision=1.0, recall=1.0, hmean=1.0,
              best_score_thr=0.35, hmean_by_class_score=1.0, segm_mAP=1.0,
              bbox_mAP=1.0, hmean_cls_wide=1.0, hmean_mask=None,
              hmean_mask_wide=None, segm_mAP_mask=None, captured=None,
              captured_upper=None, spearman_mask_score_iou=1.5 / 3**0.5,
              spearman_cls_score_iou=1.5 / 3**0.5)),
    ])
def test_text_summary_holds_hand_counted_hmean(mask_scores, expected,
                                               tmp_path):
    textdet = load_tool('quickstart_textdet')
    anns = [
        dict(id=i + 1, image_id=1, category_id=1, segmentation=[poly],
             bbox=[poly[0], poly[1], poly[2] - poly[0], poly[5] - poly[1]],
             area=float((poly[2] - poly[0]) * (poly[5] - poly[1])),
             iscrowd=int(poly is DNC))
        for i, poly in enumerate([WORD_A, WORD_B, DNC])
    ]
    coco = dict(
        images=[dict(id=1, file_name='img_1.jpg', width=100, height=60)],
        categories=[dict(id=1, name='text')], annotations=anns)
    (tmp_path / 'icdar2015_test.json').write_text(json.dumps(coco))
    cfg = textdet.load_config(
        osp.join(textdet.CONFIG_DIR,
                 textdet.MODELS['ms-rcnn'].format('icdar2015')),
        str(tmp_path), 'icdar2015', str(tmp_path / 'work'), seed=0)

    # Masks rasterised as COCO rasterises the ground truth: A and B are
    # found exactly.
    masks = np.stack([
        mask_utils.decode(mask_utils.frPyObjects([p], 60, 100))[..., 0]
        for p in PREDS
    ])
    pred = InstanceData(
        polygons=[np.array(p, np.float32) for p in PREDS],
        masks=torch.from_numpy(masks).bool(),
        bboxes=torch.tensor([[p[0], p[1], p[2], p[5]] for p in PREDS],
                            dtype=torch.float32),
        labels=torch.zeros(len(PREDS), dtype=torch.long),
        scores=torch.tensor(CLASS_SCORES))
    if mask_scores is not None:
        pred.mask_scores = torch.tensor(mask_scores)
    sample = DetDataSample(metainfo=dict(img_id=1, ori_shape=(60, 100)))
    sample.pred_instances = pred
    register_all_modules()
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = dict(classes=('text', ))
    evaluator.process([sample])
    summary = textdet.pick_metrics(evaluator.evaluate(1),
                                   textdet.SUMMARY_KEYS)
    # CocoMetric rounds to 3 decimals.
    assert summary == pytest.approx(expected, abs=5e-4)


def test_textdet_quickstart_summary_config_and_checkpoint(tmp_path):
    tool = load_tool()
    work = tmp_path / 'work'
    summary = tool.main([
        '--task', 'textdet', '--datasets', 'icdar2015', '--work-dir',
        str(work), '--data-root', str(tmp_path / 'data'), '--num-train', '2',
        '--num-test', '2', '--epochs', '1', '--num-vis', '1'
    ])
    with open(work / 'summary.json') as f:
        assert json.load(f) == summary
    assert list(summary) == ['icdar2015']
    assert list(summary['icdar2015']) == ['ms-rcnn', 'mask-rcnn']
    for name, res in summary['icdar2015'].items():
        # Paths relative to the repository root: the config as the run
        # wrote it (reading the generated set) and its checkpoint.
        cfg = Config.fromfile(osp.join(ROOT, res['config']))
        assert cfg.val_evaluator[0].ann_file == str(
            tmp_path / 'data' / 'icdar2015' / 'icdar2015_test.json')
        assert res['checkpoint'].endswith('epoch_1.pth')
        state = torch.load(osp.join(ROOT, res['checkpoint']),
                           weights_only=False)['state_dict']
        assert any(k.startswith('roi_head.mask_iou_head.')
                   for k in state) == (name == 'ms-rcnn')
    # Only MS R-CNN has a mask score to rank by.
    assert summary['icdar2015']['mask-rcnn']['hmean_mask'] is None
    assert summary['icdar2015']['mask-rcnn']['segm_mAP_mask'] is None
    assert summary['icdar2015']['ms-rcnn']['segm_mAP_mask'] is not None
    # One titled row of one 256 px test image, drawn twice as large, per
    # model.
    picture = cv2.imread(str(work / 'vis' / 'comparison.png'))
    assert picture.shape == (2 * (24 + 512), 512, 3)


def _predictions(work_dir):
    """Per validation image, the predictions of the model trained in
    ``work_dir`` (its dumped config and latest checkpoint)."""
    from mmengine.runner import find_latest_checkpoint
    config = [p for p in glob.glob(osp.join(work_dir, '*.py'))][0]
    cfg = Config.fromfile(config)
    cfg.load_from = find_latest_checkpoint(work_dir)
    cfg.work_dir = osp.join(work_dir, 'again')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    runner.model.eval()
    out = []
    with torch.no_grad():
        for data in runner.val_dataloader:
            out += [s.pred_instances for s in runner.model.test_step(data)]
    return out


@pytest.mark.slow
def test_mask_score_on_the_frozen_twin_keeps_its_detections(
        tiny_shapes, tmp_path, monkeypatch):
    tool = load_tool()
    monkeypatch.setattr(
        load_tool('quickstart_shapes'), 'ensure_shapes_dataset',
        lambda *args, **kwargs: None)
    work = tmp_path / 'work'
    summary = tool.main([
        '--models', 'mask-rcnn', 'ms-rcnn-from-mask-rcnn', '--work-dir',
        str(work), '--data-root', tiny_shapes['data_root'], '--epochs', '1',
        '--num-vis', '0', '--ms-rcnn-options',
        'model.train_cfg.rcnn.mask_iou_detections.max_per_img=12'
    ])
    twin, ours = summary['mask-rcnn'], summary['ms-rcnn-from-mask-rcnn']
    assert ours['load_from'] == str(work / 'mask-rcnn' / 'epoch_1.pth')
    assert twin['num_preds'] > 0 and ours['segm_mAP_mask'] is not None
    # The same detections: every metric that does not rank by the mask
    # score is the twin's, exactly.
    for key in ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP_cls', 'segm_mAP_oracle',
                'segm_mAP_quality', 'segm_mAP_maskness', 'segm_mAP_upper',
                'spearman_cls_score_iou', 'num_preds'):
        assert ours[key] == twin[key], key
    # Image by image: boxes, labels, class scores, masks and maskness.
    for mine, theirs in zip(_predictions(str(work / 'ms-rcnn-from-mask-rcnn')),
                            _predictions(str(work / 'mask-rcnn'))):
        for key in ('bboxes', 'labels', 'scores', 'masks', 'maskness'):
            assert torch.equal(mine[key], theirs[key]), key
        assert 'mask_scores' in mine and 'mask_scores' not in theirs
    # Its written config: the detections of 100 proposals (make demo's
    # search), at most 12 an image as the option said (make demo: 16).
    written = Config.fromfile(
        glob.glob(str(work / 'ms-rcnn-from-mask-rcnn' / '*.py'))[0])
    assert written.model.train_cfg.rcnn.mask_iou_detections == dict(
        max_per_img=12, rpn=dict(max_per_img=100))
    assert written.model.test_cfg.rpn.max_per_img == 300


def test_maskiou_ft_stage_changes_only_the_maskiou_head(
        tiny_shapes, tmp_path, monkeypatch):
    tool = load_tool()
    # The tiny set as it is (the tool would write its 1200-image set).
    monkeypatch.setattr(
        load_tool('quickstart_shapes'), 'ensure_shapes_dataset',
        lambda *args, **kwargs: None)
    work = tmp_path / 'work'
    # Given out of order: the first stage still trains first. --epochs and
    # the training options are the first stage's; the model options reach
    # the second stage too.
    summary = tool.main([
        '--models', 'ms-rcnn-maskiou-ft', 'ms-rcnn', '--work-dir',
        str(work), '--data-root', tiny_shapes['data_root'], '--epochs', '1',
        '--num-vis', '1', '--ms-rcnn-options',
        'optim_wrapper.optimizer.weight_decay=0.01',
        'model.roi_head.mask_iou_head.target_thr=0.5'
    ])
    assert list(summary) == ['ms-rcnn', 'ms-rcnn-maskiou-ft']
    assert summary['ms-rcnn']['num_preds'] > 0
    first_ckpt = work / 'ms-rcnn' / 'epoch_1.pth'
    assert summary['ms-rcnn-maskiou-ft']['load_from'] == str(first_ckpt)
    ft_cfg = Config.fromfile(
        work / 'ms-rcnn-maskiou-ft' / 'ms-rcnn_quickstart_maskiou-ft.py')
    assert ft_cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert Config.fromfile(work / 'ms-rcnn' / 'ms-rcnn_quickstart.py'
                           ).optim_wrapper.optimizer.weight_decay == 0.01
    assert ft_cfg.model.roi_head.mask_iou_head.target_thr == 0.5
    first = torch.load(first_ckpt, weights_only=False)['state_dict']
    # 4 epochs of the 8 images, whatever --epochs said.
    second = torch.load(work / 'ms-rcnn-maskiou-ft' / 'epoch_4.pth',
                        weights_only=False)['state_dict']
    assert first.keys() == second.keys()
    head = [k for k in first if k.startswith('roi_head.mask_iou_head.')]
    assert head and any(not torch.equal(first[k], second[k]) for k in head)
    # Everything else as loaded, the backbone's BatchNorm statistics too.
    assert any('running_mean' in k for k in first)
    assert all(torch.equal(first[k], second[k]) for k in first
               if k not in head)
    # The same boxes and masks: only the mask score's ranking can differ.
    for key in ('bbox_mAP', 'segm_mAP_cls', 'segm_mAP_oracle', 'num_preds'):
        assert summary['ms-rcnn-maskiou-ft'][key] == summary['ms-rcnn'][key]

    # Run alone later, the second stage replaces its own entry and its own
    # row of the picture only.
    first_row = cv2.imread(str(work / 'vis' / 'ms-rcnn.png'))
    again = tool.main([
        '--models', 'ms-rcnn-maskiou-ft', '--work-dir', str(work),
        '--data-root', tiny_shapes['data_root'], '--num-vis', '1'
    ])
    assert list(again) == ['ms-rcnn-maskiou-ft']
    with open(work / 'summary.json') as f:
        assert json.load(f) == {'ms-rcnn': summary['ms-rcnn'], **again}
    np.testing.assert_array_equal(
        cv2.imread(str(work / 'vis' / 'comparison.png')),
        np.concatenate([
            first_row,
            cv2.imread(str(work / 'vis' / 'ms-rcnn-maskiou-ft.png'))
        ]))


def test_maskiou_ft_without_its_first_stage_is_refused(tmp_path):
    tool = load_tool()
    with pytest.raises(SystemExit) as info:
        tool.main([
            '--models', 'ms-rcnn-maskiou-ft', '--work-dir',
            str(tmp_path / 'work'), '--data-root',
            str(tmp_path / 'data')
        ])
    assert str(info.value) == (
        f'error: ms-rcnn-maskiou-ft loads the ms-rcnn model of '
        f'{tmp_path / "work"}, which has none: add ms-rcnn to --models')
    # Refused before the dataset was generated.
    assert not (tmp_path / 'data').exists()


def test_text_task_refuses_the_shapes_second_stage(capsys):
    tool = load_tool()
    with pytest.raises(SystemExit):
        tool.parse_args(
            ['--task', 'textdet', '--models', 'ms-rcnn-maskiou-ft'])
    assert ('--models: the text quick start trains ms-rcnn, mask-rcnn, '
            'ms-rcnn-from-mask-rcnn only') in capsys.readouterr().err


def test_text_mask_score_on_another_seeds_data_is_refused(tmp_path):
    # A twin "trained" (a checkpoint) on a generated set of seed 0; the
    # head alone asked for with seed 1 would replace that set.
    from ms_rcnn.data_preparation import generate_text_dataset
    data = tmp_path / 'data'
    generate_text_dataset(
        str(data / 'icdar2015'), 'icdar2015', seed=0, num_train=2,
        num_test=1)
    twin = tmp_path / 'work' / 'icdar2015' / 'mask-rcnn'
    twin.mkdir(parents=True)
    (twin / 'epoch_1.pth').write_bytes(b'')
    (twin / 'last_checkpoint').write_text(str(twin / 'epoch_1.pth'))
    record = (data / 'icdar2015' / 'synthetic_text.json').read_text()
    tool = load_tool()
    args = [
        '--task', 'textdet', '--models', 'ms-rcnn-from-mask-rcnn',
        '--datasets', 'icdar2015', '--work-dir',
        str(tmp_path / 'work'), '--data-root',
        str(data), '--num-train', '2', '--num-test', '1'
    ]
    # The twins' own arguments pass the check.
    assert load_tool('quickstart_textdet').check_twins_data(
        tool.parse_args(args + ['--seed', '0']),
        dict(num_train=2, num_test=1)) is None
    # MS R-CNN trained again beside the head does not retrain the twin.
    with pytest.raises(SystemExit, match='seed 0 there, 1 asked'):
        tool.main(args[:3] + ['ms-rcnn'] + args[3:] + ['--seed', '1'])
    with pytest.raises(SystemExit) as info:
        tool.main(args + ['--seed', '1'])
    assert str(info.value) == (
        'error: ms-rcnn-from-mask-rcnn trains on the data of the twin it '
        f'loads; {data / "icdar2015"} holds another set (seed 0 there, 1 '
        "asked): give the twins' run's --data-root, --seed, --num-train, "
        '--num-test and --fonts')
    # Nothing written: the set is the twins', no summary, no pictures.
    assert (data / 'icdar2015' / 'synthetic_text.json').read_text() == record
    assert sorted(p.name for p in (tmp_path / 'work').iterdir()) == [
        'icdar2015'
    ]


def test_text_mask_score_without_its_twin_is_refused(tmp_path):
    tool = load_tool()
    with pytest.raises(SystemExit) as info:
        tool.main([
            '--task', 'textdet', '--models', 'ms-rcnn-from-mask-rcnn',
            '--work-dir',
            str(tmp_path / 'work'), '--data-root',
            str(tmp_path / 'data')
        ])
    assert str(info.value) == (
        'error: ms-rcnn-from-mask-rcnn loads the mask-rcnn model of '
        f'{tmp_path / "work" / "icdar2015"}, which has none: add mask-rcnn '
        'to --models')
    # Refused before the sets were generated.
    assert not (tmp_path / 'data').exists()


@pytest.mark.slow
def test_text_mask_score_on_the_frozen_twin_keeps_its_polygons(tmp_path):
    tool = load_tool()
    work = tmp_path / 'work'
    args = [
        '--task', 'textdet', '--datasets', 'icdar2015', '--work-dir',
        str(work), '--data-root',
        str(tmp_path / 'data'), '--num-train', '4', '--num-test', '2',
        '--epochs', '1', '--num-vis', '1'
    ]
    summary = tool.main(args + ['--models', 'mask-rcnn'])
    twin = summary['icdar2015']['mask-rcnn']
    again = tool.main(args + [
        '--models', 'ms-rcnn-from-mask-rcnn', '--ms-rcnn-options',
        'model.roi_head.mask_iou_head.target_thr=0.5'
    ])
    ours = again['icdar2015']['ms-rcnn-from-mask-rcnn']
    # Run alone, the second stage adds its entry beside the twin's, and its
    # row of the picture under the twin's.
    vis = work / 'vis'
    np.testing.assert_array_equal(
        cv2.imread(str(vis / 'comparison.png')),
        np.concatenate([
            cv2.imread(str(vis / 'icdar2015_mask-rcnn.png')),
            cv2.imread(str(vis / 'icdar2015_ms-rcnn-from-mask-rcnn.png'))
        ]))
    with open(work / 'summary.json') as f:
        assert json.load(f) == {
            'icdar2015': {
                'mask-rcnn': twin,
                'ms-rcnn-from-mask-rcnn': ours
            }
        }
    assert ours['load_from'] == str(work / 'icdar2015' / 'mask-rcnn' /
                                    'epoch_1.pth')
    # The config it names is the frozen MS R-CNN, with the model option,
    # trained 2 epochs (half the config's 5, whatever --epochs gave the
    # twin).
    cfg = Config.fromfile(osp.join(ROOT, ours['config']))
    assert cfg.model.type == 'ms_rcnn.MaskScoringRCNN'
    assert cfg.model.frozen_detector is True
    assert cfg.model.roi_head.mask_iou_head.target_thr == 0.5
    assert ours['checkpoint'].endswith('epoch_2.pth')
    # The twin's polygons, ranked by the class score, give the twin's
    # hmean and segm mAP exactly; only the rankings by the mask score may
    # differ.
    assert ours['hmean_mask'] is not None and twin['hmean_mask'] is None
    assert ours['hmean_by_class_score'] == twin['hmean']
    for key in ('hmean_cls_wide', 'hmean_upper', 'segm_mAP_cls',
                'segm_mAP_quality', 'segm_mAP_maskness', 'segm_mAP_upper',
                'bbox_mAP'):
        assert ours[key] == twin[key], key
    ours_preds = _predictions(
        str(work / 'icdar2015' / 'ms-rcnn-from-mask-rcnn'))
    twin_preds = _predictions(str(work / 'icdar2015' / 'mask-rcnn'))
    assert len(ours_preds) == len(twin_preds) == 2
    assert sum(len(theirs) for theirs in twin_preds) > 0
    for mine, theirs in zip(ours_preds, twin_preds):
        for key in ('bboxes', 'labels', 'scores', 'masks', 'maskness'):
            assert torch.equal(mine[key], theirs[key]), key
        assert len(mine.polygons) == len(theirs.polygons)
        for a, b in zip(mine.polygons, theirs.polygons):
            assert np.array_equal(a, b)
        assert 'mask_scores' in mine and 'mask_scores' not in theirs
