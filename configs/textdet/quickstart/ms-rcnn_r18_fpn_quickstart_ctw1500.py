# MS R-CNN on the synthetic CTW1500-like set of tools/quickstart.py
# --task textdet, trained on 2 CPU cores: the shipped config plus what the
# CPU needs (_base_/textdet_cpu.py) and where the data is.
_base_ = ['../ms-rcnn_r50_fpn_160e_ctw1500.py', './_base_/textdet_cpu.py']

data_root = 'data/synthtext/ctw1500/'
model = {{_base_.cpu_ms_rcnn}}
train_pipeline = {{_base_.cpu_train_pipeline}}
test_pipeline = {{_base_.cpu_test_pipeline}}
train_dataloader = dict(
    batch_size={{_base_.cpu_batch_size}},
    num_workers={{_base_.cpu_num_workers}},
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers={{_base_.cpu_num_workers}},
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'ctw1500_test.json')
test_evaluator = val_evaluator
optim_wrapper = {{_base_.cpu_optim_wrapper}}
param_scheduler = {{_base_.cpu_param_scheduler}}
train_cfg = {{_base_.cpu_train_cfg}}
default_hooks = {{_base_.cpu_default_hooks}}
