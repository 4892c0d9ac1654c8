# Mask Scoring R-CNN, ResNet-50 FPN, 12 epochs on COCO: mmdet's Mask R-CNN
# plus a MaskIoU head. Parameter names match mmdet's MS R-CNN checkpoints.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

default_scope = 'ms_rcnn'

model = dict(
    # The mmdet:: base marks its model with mmdet's scope; without this the
    # names below would resolve to mmdet's own MS R-CNN classes.
    _scope_='ms_rcnn',
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            num_classes=80,
            # Both False: targets binarise probabilities and `scores` stays
            # the class score. True reproduces mmdet's MS R-CNN exactly.
            thr_on_logits=False,
            overwrite_scores=False)),
    # A probability threshold for the binarised masks of the IoU targets.
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))

# The loops build the evaluators: in mmdet's scope (from the mmdet:: base)
# ms_rcnn's metrics (e.g. MaskIoUCalibrationMetric) would not be found.
val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')

# mmdet's visualizer plus each instance's mask score.
visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')
