# MS R-CNN with a caffe-style ResNet-50 (detectron2's ImageNet weights): the
# setting of mmdet's model-zoo checkpoint ms-rcnn_r50-caffe_fpn_1x_coco.
_base_ = './ms-rcnn_r50_fpn_1x_coco.py'

model = dict(
    # caffe weights expect BGR input, mean-subtracted, not scaled.
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False),
    backbone=dict(
        norm_cfg=dict(requires_grad=False),  # frozen BN, as pretrained
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')))
