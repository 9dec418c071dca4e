"""Two adapters, one model: combining LoRA adapters, from scratch, equal to PEFT's.

Adding two tasks' updates ``ΔW1 + ΔW2`` is the obvious way to get both, and it interferes:
each update moves weights that the other task needs where they were. PEFT's
``add_weighted_adapter`` offers several combinations; every one is rebuilt here with PEFT's
names and results (the tests compare them):

- ``"cat"``: stack the factors, ``A = [w1·s1·A1; w2·s2·A2]``, ``B = [B1 B2]``. Then
  ``B·A = w1·ΔW1 + w2·ΔW2`` exactly, at rank r1 + r2: this *is* adding the ΔWs;
- ``"linear"``: average A and B *separately* (each weighted by ``sqrt(w·s)``), which keeps
  rank r but creates cross terms: ``(B1 + B2)(A1 + A2)`` holds ``B1·A2`` and ``B2·A1`` too,
  products that neither task trained;
- ``"svd"``: form ``Σ wᵢ·ΔWᵢ`` and keep its best rank-r approximation (the SVD);
- ``"ties"`` (Yadav et al., 2023, TIES-merging): per tensor, keep each task's largest entries
  (``density``), elect a sign per entry by the sum, and average only the entries that agree
  with it, so opposite signs no longer cancel;
- ``"dare_linear"`` (Yu et al., 2023, DARE): drop each entry at random with probability
  ``1 − density``, rescale the rest by ``1/density`` (the same sum on average), then add.

PEFT applies ``ties`` and ``dare_linear`` to A and B separately (like ``linear``); the
``_svd`` variants (``"ties_svd"``, ``"dare_linear_svd"``) apply them to the ΔWs themselves, as
the papers do to full weight updates, then take the SVD. Every combined adapter has
``lora_alpha = r``, so its scaling is 1 (PEFT does the same).
"""

import math
from collections.abc import Mapping, Sequence

import torch

from .multi import LoRAFactors

COMBINATIONS = ("cat", "linear", "svd", "ties", "ties_svd", "dare_linear", "dare_linear_svd")
"""The combination types :func:`combine_adapters` knows (PEFT's names). Introduced in
notebook 10, §2."""


def magnitude_prune(tensor: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``int(density·numel)`` entries of largest magnitude, zero the rest (TIES' trim).

    Introduced in notebook 10, §2.
    """
    if density >= 1:
        return tensor
    keep = torch.zeros(tensor.numel(), dtype=tensor.dtype, device=tensor.device)
    keep[tensor.abs().flatten().topk(int(density * tensor.numel())).indices] = 1
    return tensor * keep.view(tensor.shape)


def random_prune(tensor: torch.Tensor, density: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """DARE's drop and rescale: keep each entry with probability ``density``, divide by it.

    The mask comes from ``generator``, or, when it is None, from PyTorch's global random
    stream exactly as PEFT draws it (so the same ``torch.manual_seed`` gives PEFT's masks).

    Introduced in notebook 10, §2.
    """
    if density >= 1:
        return tensor
    keep = torch.bernoulli(torch.full_like(tensor, density), generator=generator)
    return tensor * keep / density


def ties_merge(tensors: Sequence[torch.Tensor], weights: torch.Tensor, density: float,
               pruned: bool = False) -> torch.Tensor:
    """TIES-merging: trim, elect a sign per entry, average the entries that agree with it.

    ``pruned=True`` skips the trim (for tensors already pruned, as in DARE-TIES). The sign
    of each entry is the sign of the sum of the (trimmed, unweighted) task tensors; an entry
    whose task disagrees with it is dropped, and the rest are averaged over how many agree.

    Introduced in notebook 10, §2.
    """
    stacked = torch.stack([t if pruned else magnitude_prune(t, density) for t in tensors])
    elected = torch.where(stacked.sum(dim=0) >= 0, 1, -1)
    agrees = stacked.sign() == elected
    weighted = stacked * weights.view(-1, *[1] * (stacked.dim() - 1))
    return (weighted * agrees).sum(dim=0) / agrees.sum(dim=0).clamp(min=1)


def _merge_tensors(kind: str, tensors: Sequence[torch.Tensor], weights: torch.Tensor,
                   density: float, generator: torch.Generator | None) -> torch.Tensor:
    """One of the element-wise merges on a list of same-shaped tensors."""
    w = weights.view(-1, *[1] * tensors[0].dim())
    if kind == "linear":
        return (torch.stack(list(tensors)) * w).sum(dim=0)
    if kind == "ties":
        return ties_merge(tensors, weights, density)
    # dare_linear
    return (torch.stack([random_prune(t, density, generator) for t in tensors]) * w).sum(dim=0)


def _check(adapters: Sequence[Mapping[str, LoRAFactors]], weights: Sequence[float],
           combination_type: str, density: float | None) -> None:
    if combination_type not in COMBINATIONS:
        raise ValueError(f"combination_type must be one of {COMBINATIONS}, got "
                         f"{combination_type!r}.")
    if len(adapters) < 1 or len(weights) != len(adapters):
        raise ValueError(f"Pass one weight per adapter: {len(adapters)} adapters, "
                         f"{len(weights)} weights.")
    if any(sorted(a) != sorted(adapters[0]) for a in adapters):
        raise ValueError("The adapters adapt different modules; combine adapters of the same "
                         "modules.")
    needs_density = combination_type.startswith(("ties", "dare"))
    if needs_density and (density is None or not 0 < density <= 1):
        raise ValueError(f"{combination_type} keeps a fraction `density` of the entries: pass "
                         f"density in (0, 1], got {density!r}.")
    if not needs_density and density is not None:
        raise ValueError(f"{combination_type} prunes nothing, so density={density!r} would be "
                         "ignored; leave it out.")
    ranks = {A.shape[0] for a in adapters for A, _, _ in a.values()}
    if combination_type in ("linear", "ties", "dare_linear") and len(ranks) != 1:
        raise ValueError(f"{combination_type} adds A and B entry by entry, so every adapter "
                         f"needs the same rank; got ranks {sorted(ranks)}. Use 'cat' or 'svd'.")


def combine_adapters(adapters: Sequence[Mapping[str, LoRAFactors]], weights: Sequence[float],
                     combination_type: str = "svd", density: float | None = None,
                     svd_rank: int | None = None,
                     generator: torch.Generator | None = None) -> dict[str, LoRAFactors]:
    """One adapter from several: ``{module name: (A, B, 1.0)}``, as PEFT's ``add_weighted_adapter``.

    ``adapters`` are ``{module name: (A, B, scaling)}`` maps (see
    :func:`~lora_tutorial.serving.multi.adapter_factors`), ``weights`` one number per
    adapter. ``density`` is required by the TIES and DARE types and refused by the others;
    ``svd_rank`` (default: the largest rank) sets the rank of the ``svd`` types; ``generator``
    draws DARE's masks (None: the global stream, as PEFT).

    Introduced in notebook 10, §2.
    """
    _check(adapters, weights, combination_type, density)
    svd_types = ("svd", "ties_svd", "dare_linear_svd")
    if svd_rank is not None and combination_type not in svd_types:
        raise ValueError(f"svd_rank applies to {svd_types} only, not to {combination_type!r}.")
    combined = {}
    for name in adapters[0]:
        factors = [adapter[name] for adapter in adapters]
        if combination_type == "cat":
            A = torch.cat([w * s * A for (A, _, s), w in zip(factors, weights)], dim=0)
            B = torch.cat([B for _, B, _ in factors], dim=1)
        elif combination_type in svd_types:
            deltas = [s * B @ A for A, B, s in factors]
            kind = combination_type.removesuffix("_svd") if combination_type != "svd" else "linear"
            delta = _merge_tensors(kind, deltas, torch.tensor(weights, dtype=deltas[0].dtype),
                                   density or 1.0, generator)
            rank = svd_rank or max(A.shape[0] for A, _, _ in factors)
            U, S, Vh = torch.linalg.svd(delta, full_matrices=True)
            A, B = Vh[:rank], U[:, :rank] @ torch.diag(S[:rank])
        else:
            # Split each weight·scaling between A and B (the sign goes on A only), then merge
            # the As and the Bs separately: PEFT's recipe for linear, ties and dare_linear.
            scaled = [w * s for (_, _, s), w in zip(factors, weights)]
            on_A = torch.tensor([math.copysign(math.sqrt(abs(v)), v) for v in scaled])
            on_B = torch.tensor([math.sqrt(abs(v)) for v in scaled])
            A = _merge_tensors(combination_type, [A for A, _, _ in factors], on_A.to(factors[0][0]),
                               density or 1.0, generator)
            B = _merge_tensors(combination_type, [B for _, B, _ in factors], on_B.to(factors[0][1]),
                               density or 1.0, generator)
        combined[name] = (A, B, 1.0)
    return combined


def sign_conflicts(delta_1: torch.Tensor, delta_2: torch.Tensor, density: float = 1.0) -> float:
    """Share of entries, among those both updates keep after trimming, with opposite signs.

    Introduced in notebook 10, §2.
    """
    kept = (magnitude_prune(delta_1, density) != 0) & (magnitude_prune(delta_2, density) != 0)
    opposite = (delta_1.sign() * delta_2.sign() < 0) & kept
    return opposite.sum().item() / max(kept.sum().item(), 1)
