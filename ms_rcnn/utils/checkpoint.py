"""Loading mmengine checkpoints under torch >= 2.6 (``weights_only=True``).

Since torch 2.6, ``torch.load`` only unpickles tensors, containers and
allow-listed globals. The training checkpoints that mmengine's Runner writes
also hold the message hub: ``HistoryBuffer`` objects with numpy arrays, numpy
scalars and bound methods (pickled as ``getattr(buffer, 'min')``). mmengine
0.10.7 calls ``torch.load`` without allowing them, so ``--resume`` fails.

Rather than turning ``weights_only`` off, :func:`allow_mmengine_checkpoints`
makes mmengine's loader of local files allow exactly
:data:`MMENGINE_SAFE_GLOBALS`, and only while it loads. ``getattr`` is among
them because of the bound methods; the unpickler still refuses to *call*
anything that is not allow-listed. Load only checkpoints you trust.
"""
import os.path as osp

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader


def _numpy_globals():
    """numpy's array / scalar / dtype reconstructors, under the module names
    both numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) pickle them."""
    multiarray = np.core.multiarray
    names = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        names += [(multiarray._reconstruct, f'{module}._reconstruct'),
                  (multiarray.scalar, f'{module}.scalar')]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25 pickles dtype classes
    if dtypes is not None:
        names += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return names + [np.ndarray, np.dtype]


MMENGINE_SAFE_GLOBALS = [HistoryBuffer, getattr] + _numpy_globals()


def load_trusted_local(filename: str, map_location=None) -> dict:
    """``torch.load`` of a local mmengine checkpoint with the globals above.

    Args:
        filename (str): Path of the checkpoint (``~`` is expanded).
        map_location: As for ``torch.load``.

    Returns:
        dict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:  # torch < 2.5 does not restrict by default
        return torch.load(filename, map_location=map_location)
    with safe_globals(MMENGINE_SAFE_GLOBALS):
        return torch.load(
            filename, map_location=map_location, weights_only=True)


def allow_mmengine_checkpoints() -> None:
    """Make mmengine load local checkpoints with :func:`load_trusted_local`.

    Local paths are the scheme with the empty prefix in mmengine's
    ``CheckpointLoader``; http(s) and other schemes are left as they are.
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_trusted_local, force=True)
