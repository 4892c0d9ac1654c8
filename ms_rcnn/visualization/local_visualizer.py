"""A DetLocalVisualizer that also writes each instance's mask score."""
from typing import List, Optional

import numpy as np
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from ms_rcnn.registry import VISUALIZERS


@VISUALIZERS.register_module()
class MaskScoringVisualizer(DetLocalVisualizer):
    """Draws what :class:`mmdet.visualization.DetLocalVisualizer` draws, plus
    ``mask: <mask score>`` at the bottom-left corner of each box.

    mmdet's label shows ``class: <score>``, the classification score; MS
    R-CNN's mask score (``pred_instances.mask_scores``, score x predicted
    IoU) ranks the masks. Both are in percent, as mmdet writes scores.
    """

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List[str]],
                        palette: Optional[List[tuple]]) -> np.ndarray:
        image = super()._draw_instances(image, instances, classes, palette)
        if len(instances) == 0 or 'mask_scores' not in instances \
                or 'bboxes' not in instances:
            return image
        self.set_image(image)
        bboxes = instances.bboxes
        bboxes = bboxes.cpu().numpy() if hasattr(bboxes, 'cpu') else bboxes
        # A line below mmdet's label: its font is 13 px at the smallest.
        positions = np.stack([bboxes[:, 0], bboxes[:, 3]], 1) + np.array(
            [self.line_width, -self.line_width - 15])
        texts = [
            f'mask: {round(float(s) * 100, 1)}' for s in instances.mask_scores
        ]
        self.draw_texts(
            texts,
            positions,
            colors=self.text_color or (200, 200, 200),
            font_sizes=13,
            bboxes=[{
                'facecolor': 'black',
                'alpha': 0.8,
                'pad': 0.7,
                'edgecolor': 'none'
            }] * len(texts))
        return self.get_image()
