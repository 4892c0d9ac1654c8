"""Which detectors :class:`~ms_rcnn.deploy.graph.DetectorGraph` exports.

The graph reproduces mmdet's test path of these components exactly; any
other would be exported with the wrong semantics, so it is refused with
its name in the config.
"""
from mmcv.ops import RoIAlign
from mmdet.models.dense_heads import RPNHead
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import (BBoxHead, ConvFCBBoxHead, FCNMaskHead,
                                    Shared2FCBBoxHead, Shared4Conv1FCBBoxHead,
                                    SingleRoIExtractor, StandardRoIHead)
from mmdet.models.task_modules import AnchorGenerator, DeltaXYWHBBoxCoder

from ms_rcnn.models.roi_heads import MaskIoUHead, MaskScoringRoIHead

# Exact classes: a subclass may change what its forward or its test path
# computes.
SUPPORTED = {
    'rpn_head': (RPNHead, ),
    'rpn_head.prior_generator': (AnchorGenerator, ),
    'rpn_head.bbox_coder': (DeltaXYWHBBoxCoder, ),
    'roi_head': (StandardRoIHead, MaskScoringRoIHead),
    'roi_head.bbox_roi_extractor': (SingleRoIExtractor, ),
    'roi_head.bbox_head': (BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead,
                           Shared4Conv1FCBBoxHead),
    'roi_head.bbox_head.bbox_coder': (DeltaXYWHBBoxCoder, ),
    'roi_head.mask_roi_extractor': (SingleRoIExtractor, ),
    'roi_head.mask_head': (FCNMaskHead, ),
    'roi_head.mask_iou_head': (MaskIoUHead, ),
}


class UnsupportedModelError(ValueError):
    """A component of the model that the ONNX export does not handle."""


def _component(model, path):
    obj = model
    for name in path.split('.'):
        obj = getattr(obj, name, None)
    return obj


def _names(classes):
    return ', '.join(cls.__name__ for cls in classes)


def _check_nms(cfg, where):
    nms_type = cfg.nms.get('type', 'nms')
    if nms_type != 'nms':
        raise UnsupportedModelError(
            f'ONNX export: {where}.nms.type is {nms_type!r}; only \'nms\' '
            'is exported')
    unknown = set(cfg.nms) - {'type', 'iou_threshold', 'class_agnostic',
                              'split_thr'}
    if unknown:
        raise UnsupportedModelError(
            f'ONNX export: {where}.nms has options the export does not '
            f'handle: {sorted(unknown)}')


def check_supported(model) -> None:
    """Raise :class:`UnsupportedModelError` naming the first component of
    ``model`` that the export does not handle.

    Handled: two-stage detectors with an ``RPNHead`` (anchors, delta
    boxes), a ``StandardRoIHead`` or ms_rcnn's ``MaskScoringRoIHead`` with
    ``SingleRoIExtractor``s of aligned average ``RoIAlign``, a box head of
    mmdet's FC/conv family with delta boxes and a softmax classifier, an
    ``FCNMaskHead`` and ms_rcnn's ``MaskIoUHead``; any backbone and neck
    that ``torch.export`` traces; NMS of type ``'nms'``.
    """
    if not isinstance(model, TwoStageDetector):
        raise UnsupportedModelError(
            f'ONNX export: the detector is {type(model).__name__}; only '
            'two-stage detectors (Mask R-CNN, MS R-CNN) are exported')
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or not roi_head.with_mask:
        raise UnsupportedModelError(
            'ONNX export: the model has no roi_head with a mask head')
    if roi_head.with_shared_head:
        raise UnsupportedModelError(
            'ONNX export: roi_head.shared_head is not handled')
    for path, classes in SUPPORTED.items():
        obj = _component(model, path)
        if obj is None and path == 'roi_head.mask_iou_head':
            continue
        if type(obj) not in classes:
            raise UnsupportedModelError(
                f'ONNX export: model.{path} is {type(obj).__name__}; the '
                f'export handles {_names(classes)}')
    bbox_head = roi_head.bbox_head
    if bbox_head.custom_cls_channels or not bbox_head.with_reg:
        raise UnsupportedModelError(
            'ONNX export: model.roi_head.bbox_head needs a softmax '
            'classifier and a box regressor')
    for path in ('roi_head.bbox_roi_extractor', 'roi_head.mask_roi_extractor'):
        for layer in _component(model, path).roi_layers:
            if (type(layer) is not RoIAlign or not layer.aligned
                    or layer.pool_mode != 'avg' or layer.use_torchvision):
                raise UnsupportedModelError(
                    f'ONNX export: model.{path}.roi_layer must be mmcv\'s '
                    'RoIAlign with aligned=True and pool_mode=\'avg\'')
    _check_nms(model.test_cfg.rpn, 'test_cfg.rpn')
    _check_nms(model.test_cfg.rcnn, 'test_cfg.rcnn')
