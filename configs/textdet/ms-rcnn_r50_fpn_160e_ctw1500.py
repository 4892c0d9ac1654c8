# MS R-CNN text detector on CTW1500: the Mask R-CNN twin plus a
# MaskIoU head. HmeanIoUMetric ranks the polygons by their mask score.
_base_ = './mask-rcnn_r50_fpn_160e_ctw1500.py'

model = dict(
    _scope_='ms_rcnn',  # the mmdet:: base marks its model with mmdet's scope
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(type='MaskIoUHead', num_classes=1)),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
