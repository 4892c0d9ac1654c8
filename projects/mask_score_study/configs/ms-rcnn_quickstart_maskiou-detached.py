# loss_mask_iou stopped at the MaskIoU head's inputs (README.md of this
# project, "Detached MaskIoU inputs"): the backbone, the neck and the mask
# head learn from Mask R-CNN's losses only.
_base_ = './ms-rcnn_quickstart_maskiou-study.py'

model = dict(roi_head=dict(mask_iou_head=dict(detach_inputs=True)))
