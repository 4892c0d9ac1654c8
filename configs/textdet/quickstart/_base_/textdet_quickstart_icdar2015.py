# The synthetic ICDAR 2015-like set of tools/quickstart.py --task textdet:
# the CTW1500-like set's pipelines, schedule and hooks with ICDAR 2015's
# files and quadrilaterals, as the shipped
# configs/textdet/_base_/textdet_icdar2015.py changes textdet_ctw1500.py.
_base_ = './textdet_quickstart_ctw1500.py'

data_root = 'data/synthtext/icdar2015/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='icdar2015_train.json'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='icdar2015_test.json'))
test_dataloader = val_dataloader

# Words are quadrilaterals: minimum-area rotated rectangles of the masks.
model = dict(test_cfg=dict(rcnn=dict(mask2polygon=dict(mode='quad'))))
val_evaluator = dict(
    ann_file=data_root + 'icdar2015_test.json', polygon_mode='quad')
test_evaluator = val_evaluator
