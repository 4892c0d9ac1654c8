# The MaskIoU head trained on what it scores at test time (README.md of this
# project, "Which mask score?"): every sampled positive and at most as many
# negatives, drawn at random, on the class the box head predicts.
_base_ = './ms-rcnn_quickstart_maskiou-study.py'

model = dict(
    roi_head=dict(
        mask_iou_head=dict(
            train_rois='all', train_class='pred', max_neg_ratio=1.0)))
