# ICDAR2015 incidental scene text (word quadrilaterals) converted by
# tools/dataset_converters/icdar2015.py; "###" words are iscrowd=1. The same
# pipelines as CTW1500 but for the test size and the polygon shape.
_base_ = './textdet_ctw1500.py'

data_root = 'data/icdar2015/'
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=(1920, 1920), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='icdar2015_train.json'))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='icdar2015_test.json',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Words are quadrilaterals: minimum-area rotated rectangles of the masks.
model = dict(test_cfg=dict(rcnn=dict(mask2polygon=dict(mode='quad'))))
val_evaluator = dict(
    ann_file=data_root + 'icdar2015_test.json', polygon_mode='quad')
test_evaluator = val_evaluator
