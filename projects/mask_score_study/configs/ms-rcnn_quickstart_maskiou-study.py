# The quick-start MS R-CNN (configs/quickstart/ms-rcnn_quickstart.py) with
# this project's heads at their defaults: the paper's training, the same
# losses, each option of the study one line away (the configs beside this
# one). Run from the repository root (custom_imports imports projects.*).
_base_ = '../../../configs/quickstart/ms-rcnn_quickstart.py'

custom_imports = dict(
    imports=['projects.mask_score_study.mask_score_study'],
    allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='StudyMaskScoringRoIHead',
        mask_iou_head=dict(type='StudyMaskIoUHead')))
