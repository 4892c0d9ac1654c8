# A mask score for mmdet's trained Mask R-CNN R-50 FPN 1x: a MaskIoU head
# trained on the frozen detector. Boxes, classes and masks stay the Mask
# R-CNN's own (its checkpoint in load_from), so whatever the mask score
# changes is its own doing. tools/add_mask_score.py writes the same for
# any Mask R-CNN config and checkpoint; this file is that pattern for
# `mim train`: the Mask R-CNN's config as _base_, plus what changes.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

model = dict(
    # The mmdet:: base gives the model mmdet's scope: the names say ours.
    type='ms_rcnn.MaskScoringRCNN',
    # Everything but the MaskIoU head in eval mode and without gradient;
    # only loss_mask_iou is computed.
    frozen_detector=True,
    roi_head=dict(
        type='ms_rcnn.MaskScoringRoIHead',
        # Sized like the mask head (4 convs of 256 channels), as in the
        # paper: fcs of 1024, one IoU per class.
        mask_iou_head=dict(type='ms_rcnn.MaskIoUHead', num_classes=80)),
    # The MaskIoU targets binarise the predicted masks at this probability.
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))

# mmdet's checkpoint of the _base_ config (its model zoo; the sha256 prefix
# in the name): box AP 38.2, mask AP 34.7 on COCO val2017.
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/'
             'mask_rcnn_r50_fpn_1x_coco/'
             'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')

# Half the detector's schedule, as tools/add_mask_score.py trains by
# default: the base's warm-up, then a cosine decay to 1 %.
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min_ratio=0.01)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
# Turns the other parameters' gradients off and refuses a checkpoint that
# lacks one of them; with several GPUs, DDP must be told that the frozen
# parameters get no gradient.
custom_hooks = [
    dict(type='ms_rcnn.TrainOnlyHook', prefixes=['roi_head.mask_iou_head'])
]
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
