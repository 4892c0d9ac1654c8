"""mmdet's ``CocoDataset`` with the COCO annotation ``id`` of each instance.

mmdet's ``CocoDataset.parse_data_info`` leaves out the annotations it cannot
use (ignored, zero-area, outside the image, of a category not in
``classes``) and keeps the others, in file order, without their ``id``: an
instance's position in ``instances`` does not lead back to its annotation.
:class:`~ms_rcnn.data_checks.SanitizeInstances` names the ``ann_id`` that
this dataset adds when it drops an instance. In a config::

    train_dataloader = dict(dataset=dict(type='CocoDatasetWithAnnIds', ...))
"""
from mmdet.datasets import CocoDataset

from ms_rcnn.registry import DATASETS


@DATASETS.register_module()
class CocoDatasetWithAnnIds(CocoDataset):
    """``CocoDataset`` whose instances also carry ``ann_id``, the ``id`` of
    their annotation in ``ann_file``.

    Arguments, data and filtering are mmdet's ``CocoDataset``'s.
    """

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """mmdet's data info, each instance with its ``ann_id``.

        mmdet's own rule decides which annotations become instances: each
        annotation is parsed alone, so that every instance comes with the
        annotation it was made from.
        """
        data_info = super().parse_data_info(
            dict(raw_data_info, raw_ann_info=[]))
        for ann in raw_data_info['raw_ann_info']:
            parsed = super().parse_data_info(
                dict(raw_data_info, raw_ann_info=[ann]))
            for instance in parsed['instances']:
                instance['ann_id'] = ann['id']
                data_info['instances'].append(instance)
        return data_info
