"""Many tenants, one base: a batch that mixes adapters, served four ways.

A LoRA adapter is small, so a server keeps *one* frozen base model and many adapters, and
each request names the adapter it wants. A batch then mixes adapters, and "merge the adapter
for zero extra latency" stops working: there is one ``W0`` but many ``ΔW``. Four ways out:

- **swap**: for each adapter in the batch, merge it (``W0 + ΔW``), run its requests, unmerge;
- **loop**: keep ``W0`` as it is and run one unmerged forward pass per adapter group;
- **gathered**: one forward pass for the whole batch; in every adapted layer each row picks
  its adapter's ``A`` and ``B`` by index and one batched product (``torch.bmm``) serves all
  rows at once. Punica (Chen et al., 2023) calls its GPU kernel for this BGMV;
- **segmented**: sort the batch so that each adapter's rows are contiguous, then one product
  per segment (Punica's SGMV; S-LoRA, Sheng et al., 2023, serves thousands of adapters with
  kernels of this kind and keeps the adapters' factors in one memory pool).

The base product ``W0·x`` is shared by every row in all four; only the small ``B·A·x`` part
differs. :class:`MultiLoRALinear` holds N adapters of one layer; :func:`inject_adapter_bank`
puts it into a model by module name and :func:`serve_batch` runs a batch in any of the ways.
"""

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn

from ..core.inject import lora_layers, replace_module

METHODS = ("swap", "loop", "gathered", "segmented")
"""The four ways :func:`serve_batch` knows. Introduced in notebook 10, §1."""

LoRAFactors = tuple[torch.Tensor, torch.Tensor, float]
"""One adapter on one layer: ``(A, B, scaling)`` with A r×k, B d×r; ΔW = scaling·B·A."""


def gathered_lora(x: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor,
                  scaling: torch.Tensor, adapter_ids: torch.Tensor) -> torch.Tensor:
    """The LoRA part of every row, each with its own adapter, in two batched products.

    ``x`` is ``(batch, tokens, k)``; ``lora_A`` ``(N, r, k)``, ``lora_B`` ``(N, d, r)`` and
    ``scaling`` ``(N,)`` stack N adapters; ``adapter_ids`` ``(batch,)`` says which adapter each
    row uses. Indexing with the ids *gathers* one ``A`` and one ``B`` per row, and
    ``torch.bmm`` multiplies row i by its own pair. Returns ``(batch, tokens, d)``.

    Introduced in notebook 10, §1.
    """
    A = lora_A[adapter_ids]                                  # (batch, r, k): one A per row
    B = lora_B[adapter_ids]                                  # (batch, d, r)
    low = torch.bmm(x, A.transpose(1, 2))                    # (batch, tokens, r)
    return torch.bmm(low, B.transpose(1, 2)) * scaling[adapter_ids].view(-1, 1, 1)


def segmented_lora(x: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor,
                   scaling: torch.Tensor, segments: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """The LoRA part of a batch sorted by adapter: one product per segment.

    ``segments`` lists ``(adapter, start, stop)``: rows ``start:stop`` of ``x`` all use that
    adapter. Shapes as in :func:`gathered_lora`.

    Introduced in notebook 10, §1.
    """
    out = x.new_zeros(*x.shape[:-1], lora_B.shape[1])
    for adapter, start, stop in segments:
        out[start:stop] = (x[start:stop] @ lora_A[adapter].T @ lora_B[adapter].T
                           * scaling[adapter])
    return out


def segments_of(sorted_ids: torch.Tensor) -> list[tuple[int, int, int]]:
    """``(adapter, start, stop)`` for every run of equal ids in an already sorted id tensor.

    Introduced in notebook 10, §1.
    """
    adapters, counts = torch.unique_consecutive(sorted_ids, return_counts=True)
    stops = counts.cumsum(0).tolist()
    starts = [0] + stops[:-1]
    return list(zip(adapters.tolist(), starts, stops))


class MultiLoRALinear(nn.Module):
    """A frozen ``nn.Linear`` with a bank of N adapters; which one a row gets is set per batch.

    The factors are stacked: ``lora_A`` ``(N, r, k)``, ``lora_B`` ``(N, d, r)``, ``scaling``
    ``(N,)``, all buffers (nothing here trains). ``plan`` says how the next forward pass
    applies them; :func:`serve_batch` sets it:

    - ``("base",)``: ``W0`` only (also what a merged adapter needs: ``ΔW`` is inside ``W0``);
    - ``("single", i)``: every row uses adapter ``i``;
    - ``("gathered", ids)``: row ``b`` uses adapter ``ids[b]`` (:func:`gathered_lora`);
    - ``("segmented", segments)``: rows sorted by adapter (:func:`segmented_lora`).

    Introduced in notebook 10, §1.
    """

    def __init__(self, base: nn.Linear, factors: Sequence[LoRAFactors]):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"MultiLoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if not factors:
            raise ValueError("A bank needs at least one adapter.")
        shapes = {(tuple(A.shape), tuple(B.shape)) for A, B, _ in factors}
        if len(shapes) != 1:
            raise ValueError(f"Every adapter of one layer must have the same shapes to be stacked, "
                             f"got {sorted(shapes)}. Serve adapters of different ranks in "
                             "separate banks (or pad A and B with zeros to the largest rank).")
        (a_shape, b_shape), = shapes
        r = a_shape[0]
        if a_shape != (r, base.in_features) or b_shape != (base.out_features, r):
            raise ValueError(f"A must be r×{base.in_features} and B {base.out_features}×r for "
                             f"this layer, got A {a_shape} and B {b_shape}.")
        self.base_layer = base.requires_grad_(False)
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.register_buffer("lora_A", torch.stack([A.detach() for A, _, _ in factors]).to(**factory))
        self.register_buffer("lora_B", torch.stack([B.detach() for _, B, _ in factors]).to(**factory))
        self.register_buffer("scaling", torch.tensor([float(s) for _, _, s in factors], **factory))
        self.plan: tuple = ("base",)

    @property
    def num_adapters(self) -> int:
        return self.lora_A.shape[0]

    def delta_weight(self, adapter: int) -> torch.Tensor:
        """ΔW of one adapter, shaped like the base weight."""
        return self.lora_B[adapter] @ self.lora_A[adapter] * self.scaling[adapter]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        kind = self.plan[0]
        if kind == "base":
            return result
        rows = x.reshape(x.shape[0], -1, x.shape[-1])        # (batch, tokens, k)
        if kind == "single":
            i = self.plan[1]
            delta = rows @ self.lora_A[i].T @ self.lora_B[i].T * self.scaling[i]
        elif kind == "gathered":
            delta = gathered_lora(rows, self.lora_A, self.lora_B, self.scaling, self.plan[1])
        else:
            delta = segmented_lora(rows, self.lora_A, self.lora_B, self.scaling, self.plan[1])
        return result + delta.reshape(result.shape)

    def extra_repr(self) -> str:
        return f"adapters={self.num_adapters}, r={self.lora_A.shape[1]}"


def bank_layers(model: nn.Module) -> Iterator[tuple[str, MultiLoRALinear]]:
    """``(name, layer)`` for every :class:`MultiLoRALinear` in ``model``.

    Introduced in notebook 10, §1.
    """
    for name, module in model.named_modules():
        if isinstance(module, MultiLoRALinear):
            yield name, module


def inject_adapter_bank(model: nn.Module,
                        adapters: Sequence[Mapping[str, LoRAFactors]]) -> list[str]:
    """Put one :class:`MultiLoRALinear` holding all ``adapters`` in place of each adapted layer.

    Each adapter maps module names to ``(A, B, scaling)`` (:func:`adapter_factors` reads them
    from a model with LoRA layers); all adapters must adapt the same modules. Adapter ``i``
    of the bank is ``adapters[i]``. Every check runs before the first replacement.

    Introduced in notebook 10, §1.
    """
    if not adapters:
        raise ValueError("Pass at least one adapter.")
    names = list(adapters[0])
    differ = [i for i, adapter in enumerate(adapters) if sorted(adapter) != sorted(names)]
    if differ:
        raise ValueError(f"Adapters {differ} adapt other modules than adapter 0 ({names}); a "
                         "bank serves adapters that adapt the same modules.")
    modules = dict(model.named_modules())
    missing = [name for name in names if not isinstance(modules.get(name), nn.Linear)]
    if missing:
        raise ValueError(f"The model has no nn.Linear named {missing}; the adapters were made "
                         "for another model (or the model already holds a bank).")
    layers = {name: MultiLoRALinear(modules[name], [adapter[name] for adapter in adapters])
              for name in names}
    for name, layer in layers.items():
        replace_module(model, name, layer)
    return names


def adapter_factors(model: nn.Module) -> dict[str, LoRAFactors]:
    """``{module name: (A, B, scaling)}`` of every LoRA layer of a model (copies, detached).

    Introduced in notebook 10, §1.
    """
    factors = {name: (layer.lora_A.weight.detach().clone(), layer.lora_B.weight.detach().clone(),
                      layer.scaling)
               for name, layer in lora_layers(model)}
    if not factors:
        raise ValueError("The model has no LoRA layers; inject_lora (and train) first.")
    return factors


@contextlib.contextmanager
def _plan(model: nn.Module, plan: tuple) -> Iterator[None]:
    layers = [layer for _, layer in bank_layers(model)]
    for layer in layers:
        layer.plan = plan
    try:
        yield
    finally:
        for layer in layers:
            layer.plan = ("base",)


@torch.no_grad()
def _merge(layers: Sequence[MultiLoRALinear], adapter: int, sign: float) -> None:
    for layer in layers:
        layer.base_layer.weight.add_(layer.delta_weight(adapter), alpha=sign)


@torch.no_grad()
def serve_batch(model: nn.Module, inputs: torch.Tensor, adapter_ids: torch.Tensor,
                method: str = "gathered") -> torch.Tensor:
    """Run a batch whose row ``b`` asks for adapter ``adapter_ids[b]``, in one of :data:`METHODS`.

    Every method returns what serving each request alone with its adapter returns (up to
    floating-point rounding: ``swap`` adds and subtracts ΔW, ``segmented`` reorders rows);
    they differ in how many passes and products they need. The model must hold a bank
    (:func:`inject_adapter_bank`).

    Introduced in notebook 10, §1.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    layers = [layer for _, layer in bank_layers(model)]
    if not layers:
        raise ValueError("The model holds no adapter bank; call inject_adapter_bank first.")
    if len(inputs) == 0:
        raise ValueError("The batch is empty: pass at least one request.")
    adapter_ids = torch.as_tensor(adapter_ids, dtype=torch.long, device=inputs.device)
    if adapter_ids.shape != (len(inputs),):
        raise ValueError(f"adapter_ids needs one adapter index per row: shape ({len(inputs)},), "
                         f"got {tuple(adapter_ids.shape)}.")
    n = layers[0].num_adapters
    if not 0 <= int(adapter_ids.min()) <= int(adapter_ids.max()) < n:
        raise ValueError(f"adapter_ids must lie in 0..{n - 1} (the bank holds {n} adapters), got "
                         f"{int(adapter_ids.min())}..{int(adapter_ids.max())}.")
    if method == "gathered":
        with _plan(model, ("gathered", adapter_ids)):
            return model(inputs)
    if method == "segmented":
        order = torch.argsort(adapter_ids, stable=True)
        with _plan(model, ("segmented", segments_of(adapter_ids[order]))):
            sorted_out = model(inputs[order])
        out = torch.empty_like(sorted_out)
        out[order] = sorted_out                              # back to the requests' order
        return out
    out = None
    for adapter in torch.unique(adapter_ids).tolist():
        rows = (adapter_ids == adapter).nonzero().squeeze(1)
        if method == "loop":
            with _plan(model, ("single", adapter)):
                group = model(inputs[rows])
        else:                                                # swap: merge, run, unmerge
            _merge(layers, adapter, +1.0)
            try:
                group = model(inputs[rows])
            finally:
                _merge(layers, adapter, -1.0)
        if out is None:
            out = group.new_empty(len(inputs), *group.shape[1:])
        out[rows] = group
    return out


def bank_bytes(model: nn.Module) -> int:
    """Bytes of every adapter's A and B in the model's bank (the scalings excluded).

    Introduced in notebook 10, §1.
    """
    return sum(layer.lora_A.numel() * layer.lora_A.element_size()
               + layer.lora_B.numel() * layer.lora_B.element_size()
               for _, layer in bank_layers(model))
