# MS R-CNN on the synthetic ICDAR 2015-like set of tools/quickstart.py
# --task textdet, trained on 2 CPU cores: its Mask R-CNN twin
# (mask-rcnn_r18_fpn_quickstart_icdar2015.py) plus a MaskIoU head, as the
# shipped ms-rcnn_r50_fpn_160e_icdar2015.py adds one to its twin.
_base_ = ['./_base_/textdet_quickstart_icdar2015.py']

model = dict(
    _scope_='ms_rcnn',  # the mmdet:: base marks its model with mmdet's scope
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        # Sized like the mask head: 2 convs of the FPN's 64 channels (the
        # paper's 4 convs of 256 cost more than the rest of the RoI heads
        # on CPU), 64 x 7 x 7 after the strided conv -> 256 wide fcs. It
        # trains as in the paper: neither detached inputs nor training on
        # the test-time detections won on every seed of the quick start
        # (projects/mask_score_study/README.md).
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_classes=1,
            num_convs=2,
            in_channels=64,
            conv_out_channels=64,
            fc_out_channels=256)),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
