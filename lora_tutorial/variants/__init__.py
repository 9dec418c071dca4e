"""Beyond plain LoRA, built on the core and never inside it.

``quantize``: QLoRA's 4-bit NormalFloat base (Dettmers et al., 2023), built by hand;
``loraplus``: LoRA+'s two learning rates (Hayou et al., 2024).
"""
