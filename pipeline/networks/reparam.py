"""Structural re-parameterisation: what a multi-branch training block folds into, by name and by
weights.

RepVGG (Ding et al., CVPR 2021) and ECBSR (Zhang et al., ACM MM 2021) train a block of parallel
linear branches and deploy the one convolution they sum to. This module holds the pieces every
such block shares: the conv a folded (weight, bias) becomes (:func:`conv_from`), the fold of a 1×1
conv followed by a 3×3 stage (:func:`fold_pointwise_then`, ECB's expand branch), the names of the
mixed-path branch sets and the op each folds to (:func:`folded_op`, what a latency table keys on),
and the fold of a whole network (:func:`reparameterize_model`, timm's name), which export, the
latency profiler and the complexity count call, so what is measured and deployed is the folded
network. The blocks themselves are :mod:`tnas_pipeline.networks.ecb` and
:mod:`tnas_pipeline.networks.mixed_path`.
"""

from __future__ import annotations

import copy
from itertools import combinations

import torch
from torch import nn

#: The linear branches a mixed-path layer may keep (``tnas_pipeline.networks.mixed_path``).
LINEAR_BRANCHES = ("conv3x3", "conv1x1", "identity")
_SHORT = {"conv3x3": "3x3", "conv1x1": "1x1", "identity": "id"}


@torch.no_grad()
def conv_from(weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """The same-size conv with these weight ``[cout, cin, k, k]`` and bias: what a
    re-parameterisable layer folds into."""
    cout, cin, k, _ = weight.shape
    conv = nn.Conv2d(cin, cout, k, padding=k // 2).to(weight.device, weight.dtype)
    conv.weight.copy_(weight)
    conv.bias.copy_(bias)
    return conv


def fold_pointwise_then(conv1x1: nn.Conv2d, w2: torch.Tensor, b2: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """A 1×1 conv followed by a dense 3×3 stage (weight ``w2`` ``[cout, mid, 3, 3]``, bias
    ``b2``), run on an input already zero-padded by one pixel (so the 3×3 sees the 1×1's bias at
    the border, the condition for an exact fold), as the (weight ``[cout, cin, 3, 3]``, bias
    ``[cout]``) of the one equivalent padded conv."""
    w1, b1 = conv1x1.weight[:, :, 0, 0], conv1x1.bias
    return torch.einsum("omhw,mi->oihw", w2, w1), b2 + torch.einsum("omhw,m->o", w2, b1)


def rep_op_name(branches: tuple[str, ...]) -> str:
    """The registered op of a set of branches, in :data:`LINEAR_BRANCHES` order."""
    kept = [b for b in LINEAR_BRANCHES if b in branches]
    return "rep" + "_".join(_SHORT[b] for b in kept)


REP_OPS: dict[str, tuple[str, ...]] = {
    rep_op_name(c): c for n in range(1, len(LINEAR_BRANCHES) + 1)
    for c in combinations(LINEAR_BRANCHES, n)}


def folded_op(op: str) -> str:
    """The op a re-parameterisable op is deployed as: a mixed-path branch set folds to ``rep3x3``
    or ``rep1x1``, an ECB to a 3×3 conv; other ops unchanged."""
    if op == "ecb":
        return "conv3x3"
    branches = REP_OPS.get(op)
    if branches is None:
        return op
    return "rep3x3" if "conv3x3" in branches else "rep1x1"


def has_foldable(model: nn.Module) -> bool:
    """Whether any submodule of ``model`` has a ``reparameterize()`` to fold."""
    return any(callable(getattr(m, "reparameterize", None)) for m in model.modules())


def folded_copy(model: nn.Module) -> nn.Module:
    """``model`` as deployed: a folded copy when it has foldable layers, else ``model`` itself
    (the caller's module is never changed)."""
    return reparameterize_model(copy.deepcopy(model)) if has_foldable(model) else model


def reparameterize_model(model: nn.Module) -> nn.Module:
    """Fold every re-parameterisable submodule in place (timm's ``reparameterize_model``).

    Every submodule with a ``reparameterize()`` method replaces its branches with the single
    equivalent op; children are folded before parents. Networks without such modules are
    returned unchanged. Folding uses eval-mode batch-norm statistics, so the model is put in
    eval mode first."""
    if has_foldable(model):
        model.eval()
    for module in reversed(list(model.modules())):
        fold = getattr(module, "reparameterize", None)
        if callable(fold):
            fold()
    return model
