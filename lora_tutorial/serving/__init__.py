"""After training: serving many adapters on one base, combining adapters, shipping QLoRA ones.

LoRA's promise does not end when training does. This part of the package holds what the
course builds in notebook 10:

- ``multi``: one frozen base model and a bank of N adapters; a batch whose requests ask for
  different adapters, served four ways (swap, loop, gathered, segmented);
- ``combine``: two or more adapters folded into one, by the methods PEFT's
  ``add_weighted_adapter`` offers (linear, cat, svd, TIES, DARE), built from scratch;
- ``quantized``: merging a QLoRA adapter into its 4-bit base (dequantize, merge, requantize).

It builds on ``core`` and ``variants`` and never imports ``course``.
"""
