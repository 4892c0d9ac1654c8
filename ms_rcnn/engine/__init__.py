"""Training-loop components of ms_rcnn (hooks).

Robust training on top of a config such as the quick start (together with
the checked loading transforms of :mod:`ms_rcnn.data_checks`)::

    default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
    custom_hooks = [dict(type='NonFiniteLossHook')]  # action='skip' undoes
    randomness = dict(seed=0, deterministic=True)    # exact resumes

In a config inheriting the quick start, the first line only changes the
type: ``CheckpointHook``'s arguments (interval, max_keep_ckpts) are kept.
"""
