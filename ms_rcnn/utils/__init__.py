"""Utilities at the bottom of the package: they import nothing of ms_rcnn's
and change nothing on import. ``checkpoint`` (loading mmengine's training
checkpoints under torch >= 2.6), ``registry_hints`` (close matches for an
unknown config ``type``) and ``tools`` (what ``tools/train.py`` and
``tools/test.py`` share)."""
