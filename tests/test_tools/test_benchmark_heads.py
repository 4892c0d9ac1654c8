"""benchmark_heads.peak_host_bytes against allocations of known size."""
import importlib.util
from pathlib import Path

import numpy as np
import torch

SCRIPT = (Path(__file__).parents[2] / 'tools' / 'analysis_tools' /
          'benchmark_heads.py')
spec = importlib.util.spec_from_file_location('benchmark_heads', SCRIPT)
benchmark_heads = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark_heads)

MIB = 2**20
# Python objects made along the way (frames, lambdas, small integers).
SLACK = 64 * 1024


def measure(fn):
    return benchmark_heads.peak_host_bytes(fn)


def test_numpy_buffers_are_counted():
    peak = measure(lambda: np.ones(8 * MIB, dtype=np.uint8))
    assert 8 * MIB <= peak < 8 * MIB + SLACK


def test_torch_tensors_are_counted():
    peak = measure(lambda: torch.ones(8 * MIB, dtype=torch.uint8))
    assert 8 * MIB <= peak < 8 * MIB + SLACK


def test_freed_memory_is_not_counted_twice():
    # Two 8 MiB tensors, the first freed before the second: 8 MiB, not 16.
    def one_after_another():
        for _ in range(2):
            torch.ones(8 * MIB, dtype=torch.uint8)

    peak = measure(one_after_another)
    assert 8 * MIB <= peak < 8 * MIB + SLACK


def test_numpy_and_torch_held_together_add_up():
    def both():
        held = np.ones(8 * MIB, dtype=np.uint8)
        return held, torch.ones(4 * MIB, dtype=torch.uint8)

    peak = measure(both)
    assert 12 * MIB <= peak < 12 * MIB + SLACK


def test_memory_held_before_the_call_is_not_counted():
    held = (np.ones(8 * MIB, dtype=np.uint8),
            torch.ones(8 * MIB, dtype=torch.uint8))
    peak = measure(lambda: [len(a) for a in held])
    assert peak < SLACK
