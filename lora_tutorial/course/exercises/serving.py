"""Checker for notebook 10's exercise: the gathered forward pass of a mixed batch.

The learner writes ``gathered_forward(x, lora_A, lora_B, scaling, adapter_ids)``: for a batch
``x`` of shape ``(batch, tokens, k)`` whose row ``b`` asks for adapter ``adapter_ids[b]``, the
LoRA part ``scaling[i]·B_i·A_i·x_b`` of every row, shape ``(batch, tokens, d)``, with the
adapters stacked as ``lora_A`` ``(N, r, k)``, ``lora_B`` ``(N, d, r)``, ``scaling`` ``(N,)``.

:func:`check_gathered_forward` compares it with serving every request alone, on shapes the
notebook never uses (k ≠ d, r odd, an adapter used by no row, rows out of order), and names
the classic slips: the same adapter for every row, a missing or misplaced scaling, A and B
in the wrong order.
"""

from collections.abc import Callable

import torch

from ...serving.multi import gathered_lora
from . import call_learner, checker, require

N_ADAPTERS, RANK, IN_FEATURES, OUT_FEATURES, TOKENS = 5, 3, 12, 7, 4
ADAPTER_IDS = (4, 0, 2, 2, 4, 1, 0, 4, 2)        # adapter 3 is in the bank but unused


def _problem() -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(len(ADAPTER_IDS), TOKENS, IN_FEATURES, generator=generator)
    lora_A = torch.randn(N_ADAPTERS, RANK, IN_FEATURES, generator=generator)
    lora_B = torch.randn(N_ADAPTERS, OUT_FEATURES, RANK, generator=generator)
    scaling = torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0])
    return x, lora_A, lora_B, scaling, torch.tensor(ADAPTER_IDS)


def serve_alone(x, lora_A, lora_B, scaling, adapter_ids) -> torch.Tensor:
    """Each request on its own: row b times its adapter's A, then B, then its scaling."""
    return torch.stack([scaling[i] * (x[b] @ lora_A[i].T @ lora_B[i].T)
                        for b, i in enumerate(adapter_ids.tolist())])


@checker("write gathered_forward above")
def check_gathered_forward(gathered_forward: Callable) -> str:
    """Check the learner's gathered forward against serving each request alone."""
    x, lora_A, lora_B, scaling, ids = _problem()
    inputs = [t.clone() for t in (x, lora_A, lora_B, scaling, ids)]
    out = call_learner(gathered_forward, *inputs,
                       context=f"gathered_forward on a batch of {len(ids)} rows, {N_ADAPTERS} "
                               f"adapters of rank {RANK}, k={IN_FEATURES}, d={OUT_FEATURES}")
    require(all(torch.equal(a, b) for a, b in zip(inputs, (x, lora_A, lora_B, scaling, ids))),
            "Your function changed its inputs in place; leave them as they were.")
    want = (len(ids), TOKENS, OUT_FEATURES)
    require(torch.is_tensor(out) and tuple(out.shape) == want,
            f"Expected a tensor of shape {want} (batch, tokens, d), got "
            f"{tuple(out.shape) if torch.is_tensor(out) else type(out).__name__}.")
    expected = serve_alone(x, lora_A, lora_B, scaling, ids)
    if not torch.allclose(out, expected, rtol=1e-4, atol=1e-4):
        first = serve_alone(x, lora_A, lora_B, scaling, torch.full_like(ids, int(ids[0])))
        require(not torch.allclose(out, first, rtol=1e-4, atol=1e-4),
                "Every row got the first row's adapter: gather one A and one B *per row* with "
                "lora_A[adapter_ids] and lora_B[adapter_ids].")
        unscaled = serve_alone(x, lora_A, lora_B, torch.ones_like(scaling), ids)
        require(not torch.allclose(out, unscaled, rtol=1e-4, atol=1e-4),
                "You left out the scaling: multiply each row by scaling[adapter_ids], reshaped "
                "to (batch, 1, 1) so that it broadcasts over tokens and features.")
        require(not torch.allclose(out, unscaled * scaling[ids[0]], rtol=1e-4, atol=1e-4),
                "Every row got the first row's scaling: each adapter has its own, so index "
                "scaling with adapter_ids too.")
        per_position = serve_alone(x, lora_A, lora_B, scaling,
                                   torch.arange(len(ids)) % N_ADAPTERS)
        require(not torch.allclose(out, per_position, rtol=1e-4, atol=1e-4),
                "Row b used adapter b (mod N), not adapter_ids[b]: index with the ids.")
        wrong = int((~torch.isclose(out, expected, rtol=1e-4, atol=1e-4)).any(-1).any(-1).sum())
        require(False, f"{wrong} of {len(ids)} rows differ from serving that request alone with "
                       "its adapter. For row b: x[b] @ A[i].T @ B[i].T * scaling[i] with "
                       "i = adapter_ids[b]; A first (down to r numbers), then B.")
    package = gathered_lora(x, lora_A, lora_B, scaling, ids)
    gap = (out - package).abs().max().item()
    return (f"{len(ids)} requests for {len(set(ADAPTER_IDS))} of {N_ADAPTERS} adapters, each row "
            "equal to serving it alone, and to the package's gathered_lora (largest difference "
            f"{'below 1e-5' if gap < 1e-5 else f'{gap:.1e}'}).")
