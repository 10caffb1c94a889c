"""Cosine learning-rate annealing over the fraction of the budget spent (SGDR without restarts,
Loshchilov and Hutter, ICLR 2017); the fraction is iterations or wall time, whichever is the budget.
"""

from __future__ import annotations

import math


def cosine_lr(progress: float, lr: float, lr_final: float) -> float:
    """Learning rate at ``progress`` in [0, 1] of the budget."""
    p = min(max(progress, 0.0), 1.0)
    return lr_final + 0.5 * (lr - lr_final) * (1.0 + math.cos(math.pi * p))
