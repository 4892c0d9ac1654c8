# Mask R-CNN on the synthetic CTW1500-like set of tools/quickstart.py
# --task textdet, trained on 2 CPU cores: the shipped text model at the
# quick start's size (_base_/textdet_quickstart_r18_fpn.py) with the set's
# data, evaluator, schedule and hooks. The twin of
# ms-rcnn_r18_fpn_quickstart_ctw1500.py.
_base_ = ['./_base_/textdet_quickstart_ctw1500.py']
