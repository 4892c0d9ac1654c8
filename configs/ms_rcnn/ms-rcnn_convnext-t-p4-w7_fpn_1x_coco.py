# MS R-CNN with an mmpretrain ConvNeXt-T backbone (ImageNet-1k weights),
# 12 epochs on COCO. mmpretrain's models are imported into their own scope.
_base_ = './ms-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(
    imports=['mmpretrain.models'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=[0, 1, 2, 3],
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,  # keep the per-stage feature maps
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth',  # noqa
            prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

# ConvNeXt trains with AdamW and no weight decay on norms and layer scales.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'.gamma': dict(decay_mult=0.0)}))
