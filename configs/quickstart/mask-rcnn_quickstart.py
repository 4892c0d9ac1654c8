# Mask R-CNN sized for a CPU quick start: a thin ResNet-18 FPN trained from
# scratch on the generated shapes dataset (128x128 images, 3 classes), with
# group normalisation in the neck and heads (batch statistics of RoIs from
# a few images are too noisy for BN when nothing is pretrained).
# ms-rcnn_quickstart.py is this file plus a MaskIoU head; everything else
# (data, schedule, seed) is shared so that the two can be compared.
# Written out in full rather than on an mmdet:: base: a base from another
# package would tag every model dict with that package's scope.
default_scope = 'ms_rcnn'

# The classes of ms_rcnn.data_preparation.shapes.CLASSES, in label order.
classes = ('ellipse', 'triangle', 'cross')
num_classes = len(classes)
# Channels of every FPN level and of the heads reading them (mmdet: 256).
channels = 64
# 4 channels a group.
norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)

model = dict(
    type='MaskRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        # Half of ResNet-18's widths: stages of 32, 64, 128, 256 channels.
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        # From scratch: no stage is frozen and BN keeps learning its
        # statistics (pretrained configs freeze both).
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 256],
        out_channels=channels,
        # P2..P5 only: P6 (stride 64) of a 128 px image is 2x2 pixels.
        num_outs=4,
        norm_cfg=norm_cfg),
    rpn_head=dict(
        type='RPNHead',
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(
            type='AnchorGenerator',
            # Anchors of 16, 32, 64 and 128 px: shapes here span about
            # 10..90 px, occluded parts included (mmdet's scale 8 starts
            # at 32 px).
            scales=[4],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        # mmdet's StandardRoIHead whose predictions also hold `maskness`
        # (the free rival of a mask score); trains exactly as mmdet's.
        type='MasknessRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=channels,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            # One GN 3x3 conv before one fc: learns faster from scratch than
            # mmdet's two fcs.
            type='ConvFCBBoxHead',
            num_shared_convs=1,
            num_shared_fcs=1,
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=256,
            norm_cfg=norm_cfg,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            # 14x14 RoI features, upsampled to 28x28 masks as in mmdet.
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=channels,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            # Two convs instead of four: the mask head dominates the cost of
            # a step on CPU.
            num_convs=2,
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes,
            norm_cfg=norm_cfg,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        # At most 6 objects per image: a few hundred proposals are plenty
        # (mmdet: 2000 before NMS, 1000 after).
        rpn_proposal=dict(
            nms_pre=500,
            max_per_img=300,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=True,
                ignore_iof_thr=-1),
            # 32 RoIs per image instead of 512, up to half of them positive:
            # RoIAlign and its backward pass cost most of a step on CPU, and
            # a from-scratch box head learns faster from more positives.
            sampler=dict(
                type='RandomSampler',
                num=32,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=300,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.5)))

# Data: tools/quickstart.py writes it (ms_rcnn.data_preparation.shapes) and
# overrides data_root with its --data-root.
dataset_type = 'CocoDataset'
data_root = 'data/shapes/'
metainfo = dict(classes=classes)

train_pipeline = [
    # A missing, corrupt or truncated image, or an unusable instance, is
    # skipped with a warning naming the file (skip_bad=False: an error).
    dict(type='CheckedLoadImageFromFile'),
    dict(type='SanitizeInstances'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # The images are already 128x128; Resize keeps them and records the
    # scale_factor that prediction uses to map results back.
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    # Loading a 128 px PNG costs less than a worker process would.
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        # CocoDataset whose instances keep their annotation id, which
        # SanitizeInstances names when it drops one.
        type='CocoDatasetWithAnnIds',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# COCO AP, plus how well each score ranks the masks by their actual IoU.
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/val.json',
        metric=['bbox', 'segm']),
    dict(
        type='MaskIoUCalibrationMetric',
        ann_file=data_root + 'annotations/val.json'),
]
test_evaluator = val_evaluator

# Schedule: 1000 training images / batch 8 = 125 iterations an epoch.
max_epochs = 8
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    # Evaluate once, at the end.
    val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    # Warm-up: from-scratch weights give large first gradients.
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # Cosine decay to 1% over the whole run.
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min_ratio=0.01)
]
# AdamW instead of mmdet's SGD (lr 0.02, tuned for pretrained backbones);
# clipping bounds the large gradients of the first steps from random weights.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # One checkpoint, at the end, written atomically (with the RNG state,
    # so that --resume continues exactly).
    checkpoint=dict(
        type='SafeCheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
# A NaN or infinite loss stops training, naming the iteration and the term.
# Each skipped training sample is logged, and their count per epoch.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook')
]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
# No `name`: the Runner then names the visualizer after its run, so that two
# runs in one process (tools/quickstart.py) each log to their own work_dir.
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=25, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
