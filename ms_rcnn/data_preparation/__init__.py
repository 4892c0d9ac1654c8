"""Writers of COCO-format datasets for mmdet's ``CocoDataset``: the
generated shapes dataset of the quick start (:mod:`.shapes`), the
converters of raw text-detection annotations (CTW1500, ICDAR 2015), and
synthetic scene text in those raw layouts (:mod:`.synthetic_text`).

Nothing here needs torch; ``tools/dataset_converters/`` are the CLIs.
"""
from .coco_format import TextAnnotationError, build_coco, coco_counts
from .ctw1500 import (convert_ctw1500, parse_ctw1500_line, parse_ctw1500_txt,
                      parse_ctw1500_xml)
from .icdar2015 import (convert_icdar2015, parse_icdar2015_gt,
                        parse_icdar2015_line)
from .shapes import ensure_shapes_dataset, generate_shapes_dataset
from .synthetic_text import (ensure_text_dataset, generate_text_dataset,
                             text_dataset_params, text_dataset_record)

__all__ = [
    'TextAnnotationError', 'build_coco', 'coco_counts', 'convert_ctw1500',
    'parse_ctw1500_line', 'parse_ctw1500_txt', 'parse_ctw1500_xml',
    'convert_icdar2015', 'parse_icdar2015_gt', 'parse_icdar2015_line',
    'ensure_shapes_dataset', 'generate_shapes_dataset',
    'ensure_text_dataset', 'generate_text_dataset', 'text_dataset_params',
    'text_dataset_record'
]
