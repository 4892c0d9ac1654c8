# Mask Scoring R-CNN, ResNet-50 FPN, 12 epochs on COCO: mmdet's Mask R-CNN
# plus a MaskIoU head. Parameter names match mmdet's MS R-CNN checkpoints.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

default_scope = 'ms_rcnn'

model = dict(
    # The mmdet:: base marks its model with mmdet's scope; without this the
    # names below would resolve to mmdet's own MS R-CNN classes.
    _scope_='ms_rcnn',
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            num_classes=80,
            # Both False: targets binarise probabilities and `scores` stays
            # the class score. True reproduces mmdet's MS R-CNN exactly.
            thr_on_logits=False,
            overwrite_scores=False)),
    # A probability threshold for the binarised masks of the IoU targets.
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))

# The loops build the evaluators: in mmdet's scope (from the mmdet:: base)
# ms_rcnn's metrics (e.g. MaskIoUCalibrationMetric) would not be found.
val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')

# mmdet's visualizer plus each instance's mask score.
visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')

# mmdet's COCO training pipeline with the images checked and unusable
# instances dropped by name: a bad training sample is skipped with a warning
# naming the file (ms_rcnn/data_checks). The test pipeline stays
# mmdet's, whose LoadImageFromFile the inferencers replace by name. The
# datasets come from the mmdet:: base, hence the ms_rcnn. prefixes.
train_pipeline = [
    dict(type='ms_rcnn.CheckedLoadImageFromFile', backend_args=None),
    dict(type='ms_rcnn.SanitizeInstances'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# CocoDatasetWithAnnIds: a dropped instance is named by its annotation id.
train_dataloader = dict(
    dataset=dict(
        type='ms_rcnn.CocoDatasetWithAnnIds', pipeline=train_pipeline))

# Checkpoints written atomically with the RNG state (exact --resume), and a
# NaN or infinite loss stops training naming the iteration and the term.
default_hooks = dict(
    checkpoint=dict(_scope_='ms_rcnn', type='SafeCheckpointHook'))
# Each skipped training sample is logged, and their count per epoch.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook')
]
