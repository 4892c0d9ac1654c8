# SCUT-CTW1500 (curved text lines) converted by
# tools/dataset_converters/ctw1500.py; do-not-care lines are iscrowd=1.
_base_ = './textdet_mask-rcnn_r50_fpn_160e.py'

data_root = 'data/ctw1500/'
backend_args = None
metainfo = dict(classes=('text', ))

train_pipeline = [
    # Bad images and unusable polygons are skipped, naming the file.
    dict(type='CheckedLoadImageFromFile', backend_args=backend_args),
    dict(type='SanitizeInstances'),
    # Polygons stay polygons: the MaskIoU targets clip them exactly.
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
         poly2mask=False),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=0),
    # Width and height drawn independently in [640, 2560], then a 640 crop.
    dict(type='RandomResize', scale=[(640, 640), (2560, 2560)],
         keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=(640, 640), recompute_bbox=True,
         allow_negative_crop=False),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1600, 1600), keep_ratio=True),
    # HmeanIoUMetric reads the ground truth from the ann_file.
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        # CocoDataset whose instances keep their annotation id, which
        # SanitizeInstances names when it drops one.
        type='CocoDatasetWithAnnIds',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='ctw1500_train.json',
        data_prefix=dict(img=''),  # file names are relative to data_root
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='ctw1500_test.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# Curved lines: polygons are the masks' contours.
model = dict(test_cfg=dict(rcnn=dict(mask2polygon=dict(mode='contour'))))
val_evaluator = dict(
    _delete_=True,
    type='HmeanIoUMetric',
    ann_file=data_root + 'ctw1500_test.json',
    polygon_mode='contour')
test_evaluator = val_evaluator
