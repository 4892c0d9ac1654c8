"""Converters from raw text-detection datasets to COCO-style JSON."""
from .coco_format import TextAnnotationError, build_coco, coco_counts
from .ctw1500 import (convert_ctw1500, parse_ctw1500_line, parse_ctw1500_txt,
                      parse_ctw1500_xml)
from .icdar2015 import (convert_icdar2015, parse_icdar2015_gt,
                        parse_icdar2015_line)

__all__ = [
    'TextAnnotationError', 'build_coco', 'coco_counts', 'convert_ctw1500',
    'parse_ctw1500_line', 'parse_ctw1500_txt', 'parse_ctw1500_xml',
    'convert_icdar2015', 'parse_icdar2015_gt', 'parse_icdar2015_line'
]
