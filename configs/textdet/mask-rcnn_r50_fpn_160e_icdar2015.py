# Mask R-CNN text detector on ICDAR2015, the baseline of its MS R-CNN twin.
_base_ = './_base_/textdet_icdar2015.py'
