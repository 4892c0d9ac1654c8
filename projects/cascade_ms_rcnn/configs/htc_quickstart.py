# HTC without the semantic branch (the generated shapes have no stuff maps,
# like mmdet's htc-without-semantic_r50_fpn_1x_coco.py) sized for the CPU
# quick start: cascade-mask-rcnn_quickstart.py with HTC's interleaved box and
# mask branches and mask information flow. Its twin htc-ms_quickstart.py
# adds only the MaskIoU head.
_base_ = './cascade-mask-rcnn_quickstart.py'


def stage_mask_head(with_conv_res=True):
    # The quick start's mask head (2 GN convs, 64 channels); the first stage
    # has no earlier mask features to add.
    return dict(
        type='HTCMaskHead',
        with_conv_res=with_conv_res,
        num_convs=2,
        in_channels={{_base_.channels}},
        conv_out_channels={{_base_.channels}},
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        loss_mask=dict(
            type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))


model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='HybridTaskCascadeRoIHead',
        interleaved=True,
        mask_info_flow=True,
        mask_head=[
            stage_mask_head(with_conv_res=False),
            stage_mask_head(),
            stage_mask_head(),
        ]))
