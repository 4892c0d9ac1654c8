# The 2x schedule (24 epochs, steps at 16 and 22) of ms-rcnn_x101-64x4d_fpn_1x_coco.
_base_ = './ms-rcnn_x101-64x4d_fpn_1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[16, 22], gamma=0.1)
]
