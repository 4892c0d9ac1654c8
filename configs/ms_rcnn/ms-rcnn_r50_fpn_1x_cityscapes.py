# MS R-CNN on Cityscapes instances (8 classes), 8 epochs x 8 repeats,
# initialised from a COCO checkpoint as mmdet's Mask R-CNN recipe does. The
# only COCO MS R-CNN R-50 checkpoint is caffe-style, so the backbone is too.
_base_ = 'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py'

default_scope = 'ms_rcnn'

model = dict(
    _scope_='ms_rcnn',  # see ms-rcnn_r50_fpn_1x_coco.py
    type='MaskScoringRCNN',
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False),
    backbone=dict(norm_cfg=dict(requires_grad=False), style='caffe'),
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(type='MaskIoUHead', num_classes=8)),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
val_cfg = dict(_scope_='ms_rcnn')
test_cfg = dict(_scope_='ms_rcnn')
visualizer = dict(_scope_='ms_rcnn', type='MaskScoringVisualizer')

# MS R-CNN from the COCO model zoo: the 80-class heads are re-initialised
# for 8 classes (their shapes differ), the rest is kept.
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/ms_rcnn/ms_rcnn_r50_caffe_fpn_1x_coco/ms_rcnn_r50_caffe_fpn_1x_coco_20200702_180848-61c9355e.pth'  # noqa
