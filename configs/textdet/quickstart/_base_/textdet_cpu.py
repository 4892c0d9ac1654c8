# What the shipped text configs need to train in minutes on 2 CPU cores,
# on the synthetic sets of tools/quickstart.py --task textdet (256 px
# images). The quick-start configs beside this folder put these pieces on
# top of configs/textdet/{ms,mask}-rcnn_r50_fpn_160e_{icdar2015,ctw1500}.py.
# Names start with cpu_ so that they never clash with the shipped configs'
# (mmengine forbids a key in two bases). Everything else (one class
# `text`, elongated anchors, polygon masks, the augmentations, hmean under
# the ICDAR protocol, the hooks) is the shipped recipe.

# Channels of every FPN level and of the heads reading them (mmdet: 256).
cpu_channels = 64
# Group normalisation in the neck and heads: batch statistics of RoIs from
# a few images are too noisy for BN when nothing is pretrained.
cpu_norm = dict(type='GN', num_groups=16, requires_grad=True)

cpu_mask_rcnn = dict(
    backbone=dict(
        # Half of ResNet-18's widths (32, 64, 128, 256 channels), trained
        # from scratch: nothing to download, nothing frozen, BN learning.
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        in_channels=[32, 64, 128, 256],
        out_channels=cpu_channels,
        norm_cfg=cpu_norm),
    rpn_head=dict(in_channels=cpu_channels, feat_channels=cpu_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=cpu_channels),
        bbox_head=dict(
            # One GN 3x3 conv before one fc: learns faster from scratch than
            # mmdet's two fcs.
            type='ConvFCBBoxHead',
            num_shared_convs=1,
            num_shared_fcs=1,
            in_channels=cpu_channels,
            conv_out_channels=cpu_channels,
            fc_out_channels=256,
            norm_cfg=cpu_norm),
        mask_roi_extractor=dict(out_channels=cpu_channels),
        # Two convs instead of four: the mask head dominates the RoI heads'
        # cost on CPU.
        mask_head=dict(
            num_convs=2,
            in_channels=cpu_channels,
            conv_out_channels=cpu_channels,
            norm_cfg=cpu_norm)),
    train_cfg=dict(
        # At most 8 words an image: a few hundred proposals are plenty
        # (mmdet: 2000 before NMS, 1000 after).
        rpn_proposal=dict(nms_pre=500, max_per_img=300),
        # 32 RoIs per image instead of 512, up to half of them positive:
        # RoIAlign and its backward cost most of a step on CPU, and a box
        # head from scratch learns faster from more positives.
        rcnn=dict(sampler=dict(num=32, pos_fraction=0.5))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

# MS R-CNN: the same, and a MaskIoU head sized like the mask head (2 convs
# of cpu_channels; the paper's 4 convs of 256 cost more than the rest of
# the RoI heads on CPU). Its training options stay the paper's defaults.
cpu_ms_rcnn = dict(
    cpu_mask_rcnn,
    roi_head=dict(
        cpu_mask_rcnn['roi_head'],
        mask_iou_head=dict(
            num_convs=2,
            in_channels=cpu_channels,
            conv_out_channels=cpu_channels,
            # cpu_channels x 7 x 7 after the strided conv -> 256 wide fcs.
            fc_out_channels=256)))

# The images are 256 px: the shipped 640 crops of 640..2560 px resizes and
# 1600 / 1920 px tests become 256 crops of 192..320 px resizes and 256 px.
# Resizes around the test size: 256..384 (upscaling only, words 1.25x
# larger on average than at test time) gave hmean 0.859 instead of 0.897
# (MS R-CNN, synthetic ICDAR 2015-like, seed 0; configs/textdet/quickstart/
# README.md).
cpu_img_size = 256
cpu_train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='SanitizeInstances'),
    dict(
        type='LoadAnnotations', with_bbox=True, with_mask=True,
        poly2mask=False),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=0),
    dict(
        type='RandomResize',
        scale=[(cpu_img_size * 3 // 4, cpu_img_size * 3 // 4),
               (cpu_img_size * 5 // 4, cpu_img_size * 5 // 4)],
        keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomCrop',
        crop_size=(cpu_img_size, cpu_img_size),
        recompute_bbox=True,
        allow_negative_crop=False),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
cpu_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(cpu_img_size, cpu_img_size), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
cpu_batch_size = 4
# Loading a 256 px JPEG costs less than a worker process would.
cpu_num_workers = 0

# Schedule: AdamW instead of SGD lr 0.08 (tuned for a pretrained backbone
# and batch 8), clipping for the large first gradients of random weights,
# a linear warm-up, then cosine decay to 1 % over the whole run.
cpu_epochs = 5
cpu_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
cpu_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=cpu_epochs,
        T_max=cpu_epochs,
        eta_min_ratio=0.01)
]
# Evaluated once, at the end; one checkpoint. The training loop builds the
# dataloader: in mmdet's scope (from the mmdet:: base) it would not find
# CheckedLoadImageFromFile.
cpu_train_cfg = dict(
    _scope_='ms_rcnn', max_epochs=cpu_epochs, val_interval=cpu_epochs)
cpu_default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=cpu_epochs, max_keep_ckpts=1))
