"""Datasets and dataset tools of ms_rcnn."""
