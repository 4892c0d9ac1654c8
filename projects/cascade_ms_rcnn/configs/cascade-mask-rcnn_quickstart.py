# Cascade Mask R-CNN sized for the CPU quick start: the quick-start Mask
# R-CNN (thin ResNet-18 FPN, 128x128 generated shapes, same data, schedule
# and seed) with mmdet's three-stage cascade RoI head. Its twin
# cascade-ms-rcnn_quickstart.py adds only the MaskIoU head.
# Run from the repository root.
_base_ = '../../../configs/quickstart/mask-rcnn_quickstart.py'

custom_imports = dict(
    imports=['projects.cascade_ms_rcnn.cascade_ms_rcnn'],
    allow_failed_imports=False)


def stage_bbox_head(target_stds):
    # The quick start's box head (one GN conv, one 256-wide fc) with mmdet's
    # cascade settings: class-agnostic regression, smooth L1, per-stage
    # target stds.
    return dict(
        type='ConvFCBBoxHead',
        num_shared_convs=1,
        num_shared_fcs=1,
        in_channels={{_base_.channels}},
        conv_out_channels={{_base_.channels}},
        fc_out_channels=256,
        norm_cfg={{_base_.norm_cfg}},
        roi_feat_size=7,
        num_classes={{_base_.num_classes}},
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=target_stds),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))


def stage_train_cfg(iou_thr):
    # mmdet's cascade assigners (IoU 0.5, 0.6, 0.7) with the quick start's
    # sampler: 32 RoIs per image, up to half of them positive.
    return dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou_thr,
            neg_iou_thr=iou_thr,
            min_pos_iou=iou_thr,
            match_low_quality=False,
            ignore_iof_thr=-1),
        sampler=dict(
            type='RandomSampler',
            num=32,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=True),
        mask_size=28,
        pos_weight=-1,
        debug=False)


model = dict(
    type='CascadeRCNN',
    roi_head=dict(
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_head=[
            stage_bbox_head([0.1, 0.1, 0.2, 0.2]),
            stage_bbox_head([0.05, 0.05, 0.1, 0.1]),
            stage_bbox_head([0.033, 0.033, 0.067, 0.067]),
        ]),
    # The base's bbox and mask RoI extractors and its FCNMaskHead (2 GN
    # convs, 64 channels) are kept; the cascade builds one of each per stage.
    train_cfg=dict(
        rcnn=[stage_train_cfg(0.5),
              stage_train_cfg(0.6),
              stage_train_cfg(0.7)]))
