# The synthetic CTW1500-like set of tools/quickstart.py --task textdet
# (256 px images) and what 2 CPU cores need to train on it in minutes: the
# data, the evaluator, the schedule and the hooks, on the model of
# textdet_quickstart_r18_fpn.py. The transforms, the dataset's settings,
# hmean under the ICDAR protocol and the hooks' types are the shipped
# recipe's (configs/textdet/_base_/textdet_ctw1500.py).
_base_ = './textdet_quickstart_r18_fpn.py'

# Names starting with __ stay in this file (mmengine leaves them out).
# The shipped 640 crops of 640..2560 px resizes and 1600 px tests become
# 256 crops of 192..320 px resizes and 256 px: resizes around the test
# size, so that words are as large in training as at test time.
__img_size = 256
__epochs = 5

data_root = 'data/synthtext/ctw1500/'
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='SanitizeInstances'),
    dict(
        type='LoadAnnotations', with_bbox=True, with_mask=True,
        poly2mask=False),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=0),
    dict(
        type='RandomResize',
        scale=[(__img_size * 3 // 4, __img_size * 3 // 4),
               (__img_size * 5 // 4, __img_size * 5 // 4)],
        keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomCrop',
        crop_size=(__img_size, __img_size),
        recompute_bbox=True,
        allow_negative_crop=False),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(__img_size, __img_size), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# 4 images a batch; loading a 256 px JPEG costs less than a worker process
# would.
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'ctw1500_test.json')
test_evaluator = val_evaluator

# Schedule: AdamW instead of SGD lr 0.08 (tuned for a pretrained backbone
# and batch 8), clipping for the large first gradients of random weights,
# a linear warm-up, then cosine decay to 1 % over the whole run.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=__epochs,
        T_max=__epochs,
        eta_min_ratio=0.01)
]
# Evaluated once, at the end; one checkpoint.
train_cfg = dict(max_epochs=__epochs, val_interval=__epochs)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=__epochs, max_keep_ckpts=1))
