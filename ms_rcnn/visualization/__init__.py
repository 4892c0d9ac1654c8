from .local_visualizer import MaskScoringVisualizer

__all__ = ['MaskScoringVisualizer']
