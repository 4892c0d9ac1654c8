# The MaskIoU head trained longer: a second stage that loads a trained
# ms-rcnn_quickstart model and trains its MaskIoU head alone for 4 more
# epochs (projects/mask_score_study/README.md, "Taking the room";
# `tools/quickstart.py --models ms-rcnn ms-rcnn-maskiou-ft` runs both
# stages). Everything else, masks and boxes included, stays as loaded, so
# the detections are the first stage's and only their mask scores change.
#
#   python tools/train.py configs/quickstart/ms-rcnn_quickstart_maskiou-ft.py \
#       --cfg-options load_from=work_dirs/ms-rcnn_quickstart/epoch_8.pth
_base_ = './ms-rcnn_quickstart.py'

# The backbone's BatchNorm keeps its loaded statistics; the other norms
# are GroupNorm, which has none.
model = dict(backbone=dict(norm_eval=True))
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
# No warm-up: the head starts trained. Cosine decay to 1 % from a quarter
# of the first stage's learning rate.
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min_ratio=0.01)
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))
default_hooks = dict(checkpoint=dict(interval=max_epochs))
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='SkippedSampleHook'),
    # Refuses to start unless load_from (or --resume) gives the weights.
    dict(type='TrainOnlyHook', prefixes=['roi_head.mask_iou_head'])
]
