# Mask R-CNN R-50 FPN for scene text, 160 epochs: the recipe mmocr 1.x trains
# its Mask R-CNN text detector with (one class, elongated anchors, SGD 0.08).
# Datasets come from textdet_ctw1500.py / textdet_icdar2015.py.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

default_scope = 'ms_rcnn'

model = dict(
    # Text masks are not padded with the image: the polygons are converted
    # to masks at the original size.
    data_preprocessor=dict(pad_mask=False),
    rpn_head=dict(
        anchor_generator=dict(
            # Small base size and very wide / tall boxes: words and lines.
            scales=[4],
            ratios=[0.17, 0.44, 1.13, 2.90, 7.46])),
    roi_head=dict(
        # mmdet's StandardRoIHead whose predictions also hold `maskness`
        # (the free rival of a mask score); trains exactly as mmdet's. The
        # mmdet:: base gives the model mmdet's scope: the name says ours.
        type='ms_rcnn.MasknessRoIHead',
        bbox_head=dict(num_classes=1),
        mask_head=dict(num_classes=1)))

# 8 images per iteration as in mmocr's recipe (e.g. 8 GPUs x 1 image).
train_dataloader = dict(batch_size=1, num_workers=2)
auto_scale_lr = dict(enable=False, base_batch_size=8)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.08, momentum=0.9, weight_decay=0.0001))
# The loop builds the training dataloader, whose pipeline starts with
# ms_rcnn's CheckedLoadImageFromFile: under mmdet's scope it is not found.
train_cfg = dict(
    _scope_='ms_rcnn',
    type='EpochBasedTrainLoop',
    max_epochs=160,
    val_interval=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, end=500),
    dict(type='MultiStepLR', milestones=[80, 128], end=160, by_epoch=True)
]
default_hooks = dict(
    checkpoint=dict(
        _scope_='ms_rcnn',
        type='SafeCheckpointHook',  # atomic, with the RNG state
        interval=20,
        max_keep_ckpts=3))
# Each skipped training sample is logged, and their count per epoch.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook')
]
# The loops build the evaluators: in mmdet's scope (from the mmdet:: base)
# they would not find HmeanIoUMetric.
val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')
# mmdet's visualizer plus each instance's mask score (when there is one).
visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')
