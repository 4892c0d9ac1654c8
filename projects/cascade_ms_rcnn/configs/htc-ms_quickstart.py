# HTC (without the semantic branch) with mask scoring for the CPU quick
# start: htc_quickstart.py plus the MaskIoU head of
# cascade-ms-rcnn_quickstart.py.
_base_ = './htc_quickstart.py'

model = dict(
    type='HybridTaskCascadeMaskScoring',
    roi_head=dict(
        type='HybridTaskCascadeMaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels={{_base_.channels}},
            conv_out_channels={{_base_.channels}},
            fc_out_channels=256,
            num_classes={{_base_.num_classes}},
            # MS R-CNN's weight. The loss is reported as loss_mask_iou,
            # not scaled by the last stage's loss weight as its mask loss is.
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            thr_on_logits=False,
            overwrite_scores=False)),
    train_cfg=dict(rcnn=[
        dict(stage_cfg, mask_thr_binary=0.5)
        for stage_cfg in _base_.model.train_cfg.rcnn
    ]))
