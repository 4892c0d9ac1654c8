# Cascade Mask R-CNN with mask scoring, ResNet-50 FPN, 12 epochs on COCO:
# mmdet's Cascade Mask R-CNN plus a MaskIoU head on the merged mask. The
# state dict is that of mmdet's cascade-mask-rcnn_r50_fpn_1x_coco plus
# roi_head.mask_iou_head.*, so mmdet's checkpoints load (load_from).
# Run from the repository root (custom_imports imports projects.*).
_base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(
    imports=['projects.cascade_ms_rcnn.cascade_ms_rcnn'],
    allow_failed_imports=False)
default_scope = 'ms_rcnn'

model = dict(
    # The mmdet:: base marks its model with mmdet's scope; ours are
    # registered in ms_rcnn's.
    _scope_='ms_rcnn',
    type='CascadeMaskScoringRCNN',
    roi_head=dict(
        type='CascadeMaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            # The mask RoI extractor's output size and channels.
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            num_classes=80,
            # MS R-CNN's weight. The loss is reported as loss_mask_iou,
            # not scaled by the last stage's loss weight as its mask loss is.
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            # Probability threshold for the IoU targets; `scores` stays the
            # class score and `mask_scores` gets score x IoU.
            thr_on_logits=False,
            overwrite_scores=False)),
    # The MaskIoU targets binarise the merged mask at this probability (read
    # from the last stage's entry; the list replaces the base's, unchanged
    # otherwise).
    train_cfg=dict(rcnn=[
        dict(stage_cfg, mask_thr_binary=0.5)
        for stage_cfg in _base_.model.train_cfg.rcnn
    ]))

# The loops build the evaluators: in mmdet's scope (from the mmdet:: base)
# ms_rcnn's metrics (e.g. MaskIoUCalibrationMetric) would not be found.
val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')

# mmdet's visualizer plus each instance's mask score.
visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')

# mmdet's training pipeline with checked image loading and unusable
# instances dropped by name (a bad sample is skipped with a warning naming
# the file); the datasets come from the mmdet:: base, hence the prefixes.
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

# Atomic checkpoints with the RNG state (exact --resume); a NaN or infinite
# loss stops training, naming the iteration and the term.
default_hooks = dict(
    checkpoint=dict(_scope_='ms_rcnn', type='SafeCheckpointHook'))
# Each skipped training sample is logged, and their count per epoch.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook')
]
