# Mask Scoring R-CNN for the CPU quick start: mask-rcnn_quickstart.py plus a
# MaskIoU head sized like its mask head (2 convs of 64 channels, 14x14 RoI
# features), trained as in the paper: on the positive RoIs, on their
# instance's class, its loss reaching the shared features. The options that
# change this training measured no better on every seed of this quick start
# (projects/mask_score_study/README.md).
_base_ = './mask-rcnn_quickstart.py'

model = dict(
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            # The paper's 4 convs cost more than the rest of the RoI heads
            # on CPU; the last conv has stride 2.
            num_convs=2,
            num_fcs=2,
            # Must match the mask RoI extractor's output_size; the head
            # max-pools the 2x larger predicted mask to this size.
            roi_feat_size=14,
            in_channels={{_base_.channels}},
            conv_out_channels={{_base_.channels}},
            # 64 channels x 7 x 7 after the strided conv -> 256 wide fcs.
            fc_out_channels=256,
            num_classes={{_base_.num_classes}},
            # Probability threshold for the IoU targets; `scores` keeps
            # the class score and `mask_scores` gets score x IoU.
            thr_on_logits=False,
            overwrite_scores=False)),
    # The MaskIoU targets binarise the predicted masks at this probability.
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
