# HTC with mask scoring, ResNet-50 FPN, 12 epochs on COCO (with the semantic
# branch, trained on COCO-stuff maps as in mmdet): mmdet's HTC plus a MaskIoU
# head on its final mask. The state dict is that of mmdet's
# htc_r50_fpn_1x_coco plus roi_head.mask_iou_head.*, so mmdet's checkpoints
# load (load_from). Run from the repository root.
_base_ = 'mmdet::htc/htc_r50_fpn_1x_coco.py'

custom_imports = dict(
    imports=['projects.cascade_ms_rcnn.cascade_ms_rcnn'],
    allow_failed_imports=False)
default_scope = 'ms_rcnn'

model = dict(
    _scope_='ms_rcnn',
    type='HybridTaskCascadeMaskScoring',
    roi_head=dict(
        type='HybridTaskCascadeMaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            num_classes=80,
            # MS R-CNN's weight. The loss is reported as loss_mask_iou,
            # not scaled by the last stage's loss weight as its mask loss is.
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            thr_on_logits=False,
            overwrite_scores=False)),
    train_cfg=dict(rcnn=[
        dict(stage_cfg, mask_thr_binary=0.5)
        for stage_cfg in _base_.model.train_cfg.rcnn
    ]))

val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')

visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')

# mmdet's HTC training pipeline (with the stuff maps of the semantic branch)
# with checked image loading and unusable instances dropped by name.
train_pipeline = [
    dict(type='ms_rcnn.CheckedLoadImageFromFile', backend_args=None),
    dict(type='ms_rcnn.SanitizeInstances'),
    dict(
        type='LoadAnnotations', with_bbox=True, with_mask=True, with_seg=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# CocoDatasetWithAnnIds: a dropped instance is named by its annotation id.
train_dataloader = dict(
    dataset=dict(
        type='ms_rcnn.CocoDatasetWithAnnIds', pipeline=train_pipeline))

default_hooks = dict(
    checkpoint=dict(_scope_='ms_rcnn', type='SafeCheckpointHook'))
# Each skipped training sample is logged, and their count per epoch.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook')
]
