"""Which detectors the ONNX export handles.

A graph (:class:`~ms_rcnn.deploy.graph.DetectorGraph` or a subclass)
reproduces mmdet's test path of exactly these components; any other would
be exported with the wrong semantics, so it is refused naming the
component by its configured path and the classes by their qualified
names. Which graph reproduces which RoI head is
:mod:`~ms_rcnn.deploy.graph`'s registry (``register_graph``,
``build_graph``): the graphs call these checks, never the other way.
"""
from typing import Iterable

from mmcv.ops import RoIAlign
from mmdet.models.dense_heads import RPNHead
from mmdet.models.roi_heads import (BBoxHead, ConvFCBBoxHead, FCNMaskHead,
                                    Shared2FCBBoxHead, Shared4Conv1FCBBoxHead,
                                    SingleRoIExtractor)
from mmdet.models.task_modules import AnchorGenerator, DeltaXYWHBBoxCoder
from torch import nn

from ms_rcnn.models.roi_heads import MaskIoUHead

# Exact classes: a subclass may change what its forward or its test path
# computes.
BBOX_HEADS = (BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead,
              Shared4Conv1FCBBoxHead)


class UnsupportedModelError(ValueError):
    """A component of the model that the ONNX export does not handle."""


def qualified_name(cls: type) -> str:
    """``package.module.Class``: two classes of one name (mmdet's and
    ms_rcnn's ``MaskScoringRoIHead``) told apart."""
    return f'{cls.__module__}.{cls.__qualname__}'


def _names(classes: Iterable[type]) -> str:
    return ', '.join(qualified_name(cls) for cls in classes)


def check_class(obj, where: str, classes: Iterable[type]) -> None:
    """Raise unless ``obj``'s class is one of ``classes`` (exactly)."""
    if type(obj) not in classes:
        raise UnsupportedModelError(
            f'ONNX export: {where} is {qualified_name(type(obj))}; the '
            f'export handles {_names(classes)}')


def check_bbox_head(head: nn.Module, where: str) -> None:
    """A box head of mmdet's FC/conv family with delta boxes and a softmax
    classifier."""
    check_class(head, where, BBOX_HEADS)
    check_class(head.bbox_coder, f'{where}.bbox_coder',
                (DeltaXYWHBBoxCoder, ))
    if head.custom_cls_channels or not head.with_reg:
        raise UnsupportedModelError(
            f'ONNX export: {where} needs a softmax classifier and a box '
            'regressor')


def check_roi_extractor(extractor: nn.Module, where: str) -> None:
    """A ``SingleRoIExtractor`` of aligned average ``RoIAlign``."""
    check_class(extractor, where, (SingleRoIExtractor, ))
    for layer in extractor.roi_layers:
        if (type(layer) is not RoIAlign or not layer.aligned
                or layer.pool_mode != 'avg' or layer.use_torchvision):
            raise UnsupportedModelError(
                f'ONNX export: {where}.roi_layer must be mmcv\'s '
                'RoIAlign with aligned=True and pool_mode=\'avg\'')


def check_nms(cfg, where: str) -> None:
    """mmcv's ``nms`` without options the graph does not reproduce."""
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


def check_rpn(model: nn.Module) -> None:
    """An ``RPNHead`` with anchors and delta boxes, and its test NMS."""
    head = model.rpn_head
    check_class(head, 'model.rpn_head', (RPNHead, ))
    check_class(head.prior_generator, 'model.rpn_head.prior_generator',
                (AnchorGenerator, ))
    check_class(head.bbox_coder, 'model.rpn_head.bbox_coder',
                (DeltaXYWHBBoxCoder, ))
    check_nms(model.test_cfg.rpn, 'test_cfg.rpn')


def check_supported(model: nn.Module) -> None:
    """Raise :class:`UnsupportedModelError` naming the first component of
    ``model`` that :class:`~ms_rcnn.deploy.graph.DetectorGraph` does not
    handle.

    Handled: two-stage detectors with an ``RPNHead`` (anchors, delta
    boxes), a ``StandardRoIHead``, ms_rcnn's ``MasknessRoIHead`` or
    ``MaskScoringRoIHead`` with ``SingleRoIExtractor``s of aligned average
    ``RoIAlign``, a box head of mmdet's FC/conv family with delta boxes
    and a softmax classifier, an ``FCNMaskHead`` and ms_rcnn's
    ``MaskIoUHead``; any backbone and neck that ``torch.export`` traces;
    NMS of type ``'nms'``.
    """
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or not roi_head.with_mask:
        raise UnsupportedModelError(
            'ONNX export: the model has no roi_head with a mask head')
    if roi_head.with_shared_head:
        raise UnsupportedModelError(
            'ONNX export: model.roi_head.shared_head is not handled')
    check_rpn(model)
    check_roi_extractor(roi_head.bbox_roi_extractor,
                        'model.roi_head.bbox_roi_extractor')
    check_bbox_head(roi_head.bbox_head, 'model.roi_head.bbox_head')
    check_roi_extractor(roi_head.mask_roi_extractor,
                        'model.roi_head.mask_roi_extractor')
    check_class(roi_head.mask_head, 'model.roi_head.mask_head',
                (FCNMaskHead, ))
    if hasattr(roi_head, 'mask_iou_head'):
        check_class(roi_head.mask_iou_head, 'model.roi_head.mask_iou_head',
                    (MaskIoUHead, ))
    check_nms(model.test_cfg.rcnn, 'test_cfg.rcnn')
