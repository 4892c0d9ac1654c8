"""Orders in which the metrics rank the same detections, and the bound no
order can beat.

Shape legend: N detections, G ground-truth instances.
"""
from typing import Optional

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

# What each ranking scores a detection by (``ranking_scores``):
#   cls            the class score
#   mask           the mask score (a model with a MaskIoU head)
#   oracle         class score x true IoU with the best instance of the
#                  detection's class: also repairs classification errors
#                  (a wrong class has IoU 0 there)
#   quality        class score x true IoU with the best instance of any
#                  class: a perfect scorer of mask quality, the class left
#                  as predicted
#   maskness       class score x maskness (free: the mask probabilities)
#   mask_maskness  mask score x maskness
RANKINGS = ('cls', 'mask', 'oracle', 'quality', 'maskness', 'mask_maskness')


def to_numpy(x) -> np.ndarray:
    """A tensor, array or list as a numpy array."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def ranking_scores(ranking: str,
                   scores: np.ndarray,
                   mask_scores: Optional[np.ndarray] = None,
                   maskness: Optional[np.ndarray] = None,
                   ious: Optional[np.ndarray] = None,
                   any_class_ious: Optional[np.ndarray] = None
                   ) -> Optional[np.ndarray]:
    """(N, ) score of each detection in ``ranking`` (see :data:`RANKINGS`),
    or None when the model does not give what it needs (no mask score, no
    maskness).

    Args:
        ranking (str): one of :data:`RANKINGS`.
        scores (np.ndarray): (N, ) class scores.
        mask_scores (np.ndarray, optional): (N, ) mask scores.
        maskness (np.ndarray, optional): (N, ) maskness.
        ious (np.ndarray, optional): (N, ) true IoU with the best instance
            of the detection's class (``oracle``).
        any_class_ious (np.ndarray, optional): (N, ) true IoU with the best
            instance of any class (``quality``).
    """
    if ranking == 'cls':
        return scores
    if ranking == 'oracle':
        return scores * ious
    if ranking == 'quality':
        return scores * any_class_ious
    needs = {
        'mask': (mask_scores, ),
        'maskness': (maskness, ),
        'mask_maskness': (mask_scores, maskness)
    }
    if ranking not in needs:
        raise ValueError(f'ranking must be one of {RANKINGS}, got '
                         f'{ranking!r}')
    if any(x is None for x in needs[ranking]):
        return None
    if ranking == 'mask':
        return mask_scores
    first = scores if ranking == 'maskness' else mask_scores
    return first * maskness


def max_matches(ious: np.ndarray, thr: float, strict: bool = False) -> int:
    """Size of the largest one-to-one matching of detections and instances
    whose IoU passes ``thr``: the most true positives that any ranking of
    these detections can give at that threshold.

    Args:
        ious (np.ndarray): (N, G) IoUs.
        thr (float): the threshold.
        strict (bool): a pair needs IoU > ``thr`` (the ICDAR protocol)
            instead of >= (COCO).
    """
    above = ious > thr if strict else ious >= thr
    if not above.any():
        return 0
    matched = maximum_bipartite_matching(csr_matrix(above), perm_type='column')
    return int((matched >= 0).sum())
