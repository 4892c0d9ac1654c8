from .maskiou_head import MaskIoUHead

__all__ = ['MaskIoUHead']
