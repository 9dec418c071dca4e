"""What the notebooks run on: the course's models, data, training loop, measurements, widgets,
exercises and the environment check.

None of it is LoRA: it is the workshop around it. ``models`` holds the two pretrained course
models (a tiny vision transformer and a tiny GPT), ``data`` and ``text`` their data,
``training`` the loops, ``measure`` timing and memory, ``device`` the CPU-or-GPU choice,
``widgets`` the interactive explorations, ``exercises`` the checkers, ``check`` the
environment check (``python -m lora_tutorial check``). ``facts`` holds what several of them
share (target-module lists, training recipes, byte counts, real model shapes), each typed once.
"""
