# Mask R-CNN text detector on CTW1500, the baseline of its MS R-CNN twin.
_base_ = './_base_/textdet_ctw1500.py'
