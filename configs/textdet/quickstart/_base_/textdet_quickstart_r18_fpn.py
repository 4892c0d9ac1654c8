# The shipped Mask R-CNN text model at the size that 2 CPU cores train in
# minutes on the 256 px images of tools/quickstart.py --task textdet. It
# sits on the shipped CTW1500 config only because mmengine inherits whole
# configs: textdet_quickstart_{ctw1500,icdar2015}.py above it replace the
# data, the evaluator, the schedule and the hooks. One class `text`, the
# elongated anchors, polygon masks and the test-time polygons stay the
# shipped recipe's.
_base_ = '../../mask-rcnn_r50_fpn_160e_ctw1500.py'

# Names starting with __ stay in this file: mmengine leaves them out of the
# config, so they do not reach the dumped configs.
# Channels of every FPN level and of the heads reading them (mmdet: 256).
__channels = 64
# Group normalisation in the neck and heads: batch statistics of RoIs from
# a few images are too noisy for BN when nothing is pretrained.
__norm = dict(type='GN', num_groups=16, requires_grad=True)

model = dict(
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
        out_channels=__channels,
        norm_cfg=__norm),
    rpn_head=dict(in_channels=__channels, feat_channels=__channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=__channels),
        bbox_head=dict(
            # One GN 3x3 conv before one fc: learns faster from scratch than
            # mmdet's two fcs.
            type='ConvFCBBoxHead',
            num_shared_convs=1,
            num_shared_fcs=1,
            in_channels=__channels,
            conv_out_channels=__channels,
            fc_out_channels=256,
            norm_cfg=__norm),
        mask_roi_extractor=dict(out_channels=__channels),
        # Two convs instead of four: the mask head dominates the RoI heads'
        # cost on CPU.
        mask_head=dict(
            num_convs=2,
            in_channels=__channels,
            conv_out_channels=__channels,
            norm_cfg=__norm)),
    train_cfg=dict(
        # At most 8 words an image: a few hundred proposals are plenty
        # (mmdet: 2000 before NMS, 1000 after).
        rpn_proposal=dict(nms_pre=500, max_per_img=300),
        # 32 RoIs per image instead of 512, up to half of them positive:
        # RoIAlign and its backward cost most of a step on CPU, and a box
        # head from scratch learns faster from more positives.
        rcnn=dict(sampler=dict(num=32, pos_fraction=0.5))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
