"""LoRA itself: the layer, module surgery, counting, adapter files and the low-rank view.

Read it in this order: ``settings`` (``LoRASettings``: r, alpha, dropout, rsLoRA and DoRA,
checked once), ``layers`` (``LoRALinear``: frozen W0 plus (alpha/r)·B·A), ``layers_hf`` (the
same for GPT-2's ``Conv1D`` and for embeddings), ``dora`` (DoRA's magnitude and direction),
``inject`` (wrapping a model's layers by name in three steps, find, build, install; merging,
disabling), ``counting`` (trainable parameters and training memory), ``adapters`` (saving and
loading an adapter in PEFT's file format, through inject's steps) and ``lowrank`` (the SVD
view of why a small r is enough). Nothing here imports the course's models, data or quizzes.
"""
