"""A mixed-path layer: parallel linear branches summed, then one activation, foldable to one conv.

Sparse Supernet (Wu et al., AAAI 2021) lets an edge keep several ops. When those ops are linear
(a k×k conv, a 1×1 conv, the identity, each followed by batch norm), their weighted sum is itself
one convolution, so the deployed network has a single branch per edge and TensorRT or ONNX
Runtime sees one conv (structural re-parameterisation, RepVGG: Ding et al., CVPR 2021):

* conv + BN in eval mode: ``W' = W γ/σ``, ``b' = β − μ γ/σ`` with ``σ = √(var + ε)``;
* a 1×1 kernel is the k×k kernel with zeros around its centre;
* the identity is the conv whose kernel is 1 at the centre of channel ``i → i``;
* a branch's architecture weight ``α`` (the mixed path's coefficient) scales its kernel and bias.

In the mixed-path *supernet* the branches' batch norms have no affine parameters
(``affine=False``, as DARTS and Sparse Supernet search with): a branch's output is normalised,
so ``α`` is its only scale and the sparse group lasso's ``|α|`` measures what the branch
contributes. With a learnable ``γ`` the two form a scale symmetry (``α·γ`` is all the network
sees), and the ℓ1 term is minimised by shrinking ``α`` while ``γ`` grows, without changing
the network. The derived network's branches do have ``γ`` and ``β`` (they are fine-tuned):
the supernet's ``α`` becomes ``γ`` (``γ = α``, ``β = 0``, the layer's ``alphas`` 1), so the
derived layer, and the conv it folds into, compute exactly the supernet's path
(:func:`tnas_pipeline.nas.mixed_path_search.inherit_mixed_state`).

Like the other block ops of the space, the layer adds its input to its output
(``x + act(Σ_b α_b · branch_b(x))``), so an edge that keeps no branch is the identity and drops
out of the network; the folded layer is one conv, its activation and the add.

:meth:`MixedPathLayer.reparameterize` replaces the branches by that conv in place;
:func:`tnas_pipeline.networks.reparam.reparameterize_model` folds every such layer of a network.
Every non-empty set of branches is a registered op (``rep3x3_1x1_id``, ``rep1x1``, ``repid``, …;
:data:`tnas_pipeline.networks.reparam.REP_OPS`), and
:func:`tnas_pipeline.networks.reparam.folded_op` names the op a set folds to.
"""

from __future__ import annotations

import torch
from torch import nn

from tnas_pipeline.networks.layers import ACTIVATIONS
from tnas_pipeline.networks.reparam import LINEAR_BRANCHES, conv_from

_KERNEL = {"conv3x3": 3, "conv1x1": 1, "identity": 1}



class LinearBranch(nn.Module):
    """One branch: a k×k conv without bias (or the identity), then batch norm.

    ``affine=False`` (the mixed-path supernet): the batch norm has no ``γ``, ``β``; the branch
    output is normalised and its only scale is the mixed path's ``α`` (module docstring)."""

    def __init__(self, kind: str, channels: int, affine: bool = True) -> None:
        super().__init__()
        if kind not in LINEAR_BRANCHES:
            raise ValueError(f"unknown linear branch {kind!r}; choose from {LINEAR_BRANCHES}")
        self.kind = kind
        k = _KERNEL[kind]
        self.conv = None if kind == "identity" else nn.Conv2d(channels, channels, k,
                                                              padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(channels, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x if self.conv is None else self.conv(x))

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch norm's ``(γ, β)``: its affine parameters, or ones and zeros without."""
        bn = self.bn
        if bn.affine:
            return bn.weight, bn.bias
        return torch.ones_like(bn.running_var), torch.zeros_like(bn.running_mean)

    def folded(self, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (weight ``[c, c, kernel, kernel]``, bias ``[c]``) of the equivalent conv."""
        c = self.bn.num_features
        ref = self.bn.running_var
        if self.conv is None:
            w = torch.zeros(c, c, 1, 1, dtype=ref.dtype, device=ref.device)
            w[torch.arange(c), torch.arange(c), 0, 0] = 1.0
        else:
            w = self.conv.weight
        pad = (kernel - w.shape[-1]) // 2
        w = nn.functional.pad(w, (pad, pad, pad, pad))
        weight, shift = self.scale_shift()
        std = (self.bn.running_var + self.bn.eps).sqrt()
        gamma = weight / std
        return w * gamma.view(-1, 1, 1, 1), shift - self.bn.running_mean * gamma


class MixedPathLayer(nn.Module):
    """``act(Σ_b α_b · branch_b(x))`` over the kept linear branches; channels → channels."""

    def __init__(self, channels: int, branches: tuple[str, ...], act: str,
                 alphas: tuple[float, ...] | None = None, skip: bool = True) -> None:
        super().__init__()
        if not branches:
            raise ValueError("a mixed-path layer needs at least one branch (an edge that keeps "
                             "none is left out of the network)")
        if len(set(branches)) != len(branches):
            raise ValueError(f"repeated branches in {branches}")
        alphas = alphas if alphas is not None else (1.0,) * len(branches)
        if len(alphas) != len(branches):
            raise ValueError(f"{len(branches)} branches but {len(alphas)} weights")
        self.kinds = tuple(branches)
        self.branches = nn.ModuleList(LinearBranch(b, channels) for b in branches)
        self.register_buffer("alphas", torch.tensor(alphas, dtype=torch.float32))
        self.act = ACTIVATIONS.get(act)(channels)
        self.skip = skip
        self.fused: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            y = self.act(self.fused(x))
        else:
            y = self.act(sum(a * b(x) for a, b in zip(self.alphas, self.branches, strict=True)))
        return x + y if self.skip else y

    @property
    def kernel(self) -> int:
        return max(_KERNEL[k] for k in self.kinds)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace the branches by the one equivalent conv (eval-mode batch norm statistics)."""
        if self.fused is not None:
            return
        k = self.kernel
        parts = [b.folded(k) for b in self.branches]
        weight = sum(a * w for a, (w, _) in zip(self.alphas, parts, strict=True))
        bias = sum(a * b for a, (_, b) in zip(self.alphas, parts, strict=True))
        self.fused = conv_from(weight, bias)
        del self.branches
