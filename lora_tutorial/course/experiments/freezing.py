"""Notebook 1's memory check: the bytes training *predicts* against the tensors that *exist*.

Used in notebook 01, §4 ("Predicted memory equals the tensors that exist").

:func:`lora_tutorial.training_memory` predicts the weights, gradients and Adam state of a
model from its parameters alone (shapes, dtypes, ``requires_grad``). To check that prediction,
train one step (:func:`adam_step`) and measure what is really there (:func:`measured_memory`):
the parameters, the ``.grad`` tensors, and the moment tensors in the optimizer's state. The
two are the same record, :class:`~lora_tutorial.core.counting.TrainingMemory`, so a notebook
can compare them with ``==``.
"""

import torch
from torch import nn

from ...core.counting import TrainingMemory, gradient_bytes


def adam_step(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
              lr: float = 1e-2) -> torch.optim.Adam:
    """One cross-entropy training step with Adam; returns the optimizer, which holds the state.

    Adam is handed only the trainable parameters (``requires_grad=True``), the usual way to
    write it, because the list then says what will train.
    """
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    nn.functional.cross_entropy(model(inputs), labels).backward()
    optimizer.step()
    return optimizer


def measured_memory(model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainingMemory:
    """The bytes of the weights, gradients and optimizer moments that exist right now.

    Adam also keeps a one-number ``step`` counter per parameter tensor (a few bytes each),
    which the prediction leaves out; only the moments (``exp_avg``, ``exp_avg_sq``) are
    counted here, so that the measurement and the prediction count the same thing.
    """
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    moments = sum(value.numel() * value.element_size()
                  for state in optimizer.state.values()
                  for key, value in state.items() if key != "step" and torch.is_tensor(value))
    return TrainingMemory(weights=weights, gradients=gradient_bytes(model),
                          optimizer_state=moments)
