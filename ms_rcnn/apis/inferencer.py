"""DetInferencer whose results carry the mask score."""
import os
import os.path as osp
from typing import Dict

import mmengine
from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample

from ms_rcnn import register_all_modules


class MaskScoringInferencer(DetInferencer):
    """mmdet's ``DetInferencer`` in the ``ms_rcnn`` scope, whose prediction
    dicts also hold ``mask_scores`` (and ``polygons`` when the model makes
    them).

    mmdet's ``DetInferencer`` runs our models too (call
    :func:`ms_rcnn.register_all_modules` first and pass ``scope='ms_rcnn'``)
    but keeps only labels, scores, boxes and masks in its dicts; with
    ``return_datasamples=True`` it returns everything.

    Args:
        model (str, optional): A config path, or a model name from our
            metafiles, e.g. ``'ms-rcnn_r50-caffe_fpn_1x_coco'``.
        weights (str, optional): Checkpoint path or URL.
        scope (str): Registry scope. Defaults to ``'ms_rcnn'``.
        **kwargs: Other arguments of ``DetInferencer`` (``device``, ...).

    Example:
        >>> inferencer = MaskScoringInferencer(
        ...     'configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py',
        ...     weights='ms_rcnn_r50_caffe_fpn_1x_coco_20200702_180848-'
        ...     '61c9355e.pth', device='cpu')
        >>> result = inferencer('demo.jpg', out_dir='outputs')
        >>> result['predictions'][0]['mask_scores']
    """

    def __init__(self, model=None, weights=None, scope='ms_rcnn', **kwargs):
        # Our modules, and training checkpoints under torch >= 2.6;
        # DetInferencer sets the scope itself.
        register_all_modules(init_default_scope=False)
        super().__init__(model=model, weights=weights, scope=scope, **kwargs)

    def pred2dict(self,
                  data_sample: DetDataSample,
                  pred_out_dir: str = '') -> Dict:
        """mmdet's dict plus ``mask_scores`` (list of float) and
        ``polygons`` (list of flat float lists), saved to
        ``pred_out_dir/preds/<image name>.json`` when a folder is given."""
        result = super().pred2dict(data_sample, pred_out_dir='')
        pred = data_sample.get('pred_instances')
        if pred is not None:
            if 'mask_scores' in pred:
                result['mask_scores'] = pred.mask_scores.cpu().tolist()
            if 'polygons' in pred:
                result['polygons'] = [p.tolist() for p in pred.polygons]
        if pred_out_dir:
            name = (osp.splitext(osp.basename(data_sample.img_path))[0]
                    if 'img_path' in data_sample else
                    str(self.num_predicted_imgs))
            if 'img_path' not in data_sample:
                self.num_predicted_imgs += 1
            os.makedirs(osp.join(pred_out_dir, 'preds'), exist_ok=True)
            mmengine.dump(result,
                          osp.join(pred_out_dir, 'preds', name + '.json'))
        return result
