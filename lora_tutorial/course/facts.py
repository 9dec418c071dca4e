"""The course's facts, each typed once: notebooks, exercises, widgets, benchmarks and the check
import them from here.

A fact that appears in two places drifts: one notebook trains 100 steps, a checker silently
120, and the comparison between them means nothing. So every number or list that more than
one place relies on lives in this module, with the notebook that uses it. (The tests keep
their own literals on purpose: a test that imported the fact it checks could not fail.)

**Which layers LoRA targets**

- :data:`BLOCK_LINEARS`: every linear layer inside a block of the digits model
  (:class:`~lora_tutorial.course.models.vit.TinyViT`), the "all linears" choice of notebooks 5
  and 9 and of the benchmarks.
- :data:`GPT_LINEARS`: the same for the tiny language model
  (:class:`~lora_tutorial.course.models.gpt.TinyGPT`, LLaMA's names), notebook 8.

**The training recipes** (AdamW, seeded batches; see :func:`~lora_tutorial.course.training.train`)

- :data:`BATCH`: images per training step on the digits, everywhere (notebook 5 onwards, and
  the batch the environment check times).
- :data:`STEPS`, :data:`LORA_LR`: the LoRA recipe on the digits. Notebook 5 finds the
  learning rate with a small search; notebooks 6 and 7 and the budget exercise reuse it.
- :data:`CODE_STEPS`, :data:`CODE_BATCH`, :data:`CODE_LEARNING_RATES`: notebook 8's recipe
  for adapting the tiny GPT to code (a different model and task, so a recipe of its own),
  shared with its exercise and its benchmark.

**Bytes** (notebook 1, and the memory explorer)

- :data:`FP32_BYTES`, :data:`ADAM_STATE_BYTES`, :data:`BYTES_PER_TRAINED_PARAMETER`: what one
  parameter costs to store, and to train with Adam.

**Real model shapes** (notebooks 1 and 4, the skeletons and the two calculators)

- :class:`DecoderShape` and the table :data:`MODEL_SHAPES`: GPT-2 small and XL, LLaMA-2-7B and
  GPT-3 175B as published. Their parameter counts follow from the shapes
  (:attr:`DecoderShape.n_params`), so the table holds no count that could disagree with them.
"""

from dataclasses import dataclass

# ---- which layers LoRA targets -------------------------------------------------------------

BLOCK_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"]
"""Every ``nn.Linear`` in a TinyViT block: attention's four projections and the MLP's two."""

GPT_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""Every ``nn.Linear`` in a TinyGPT block: attention's four and SwiGLU's three (notebook 8)."""

# ---- the training recipes ------------------------------------------------------------------

BATCH = 64
"""Images per training step on the digits (notebooks 5–9, the check's timed step)."""

STEPS = 100
"""Training steps on the digits: every method of notebook 5, the LoRA runs of notebooks 6
and 7, the budget exercise."""

LORA_LR = 1e-2
"""LoRA's learning rate on the digits: the winner of notebook 5's search (§3)."""

CODE_STEPS = 30
"""Training steps when notebook 8 adapts the tiny GPT to code (and its exercise)."""

CODE_BATCH = 16
"""Windows of 64 bytes per step in notebook 8 (and its exercise and benchmark)."""

CODE_LEARNING_RATES = {"head/embedding only": 3e-3, "LoRA q,v (r=8)": 1e-2,
                       "LoRA up,down (r=4)": 1e-2, "LoRA all linears (r=8)": 3e-3,
                       "full fine-tuning": 1e-3}
"""Notebook 8's learning rate per method: each the winner of its own search (four rates ×
three seeds, ``benchmarks/sweep_language_model.py``, recorded in
``results/language_model.json``; a test holds them equal). The exercise trains at the LoRA
q,v rate."""

# ---- bytes ---------------------------------------------------------------------------------

FP32_BYTES = 4
"""One float32 number: a weight, a gradient or one of Adam's moments."""

ADAM_STATE_BYTES = 2 * FP32_BYTES
"""Adam's state per trained parameter: the running mean and mean of squares, in fp32."""

BYTES_PER_TRAINED_PARAMETER = 16
"""Full fine-tuning with Adam, per parameter: fp32 weight 4 + gradient 4 + Adam 8; mixed
precision lands on the same 16 (16-bit weight 2 + gradient 2 + fp32 master copy 4 + Adam 8).
Activations come on top (notebook 1)."""

# ---- real model shapes ---------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderShape:
    """The published shape of a decoder-only transformer: everything its size follows from."""

    n_layers: int            # transformer blocks
    d_model: int             # width of every token's vector
    d_ff: int                # width inside the feed-forward network
    vocab_size: int          # tokens in the vocabulary
    n_positions: int         # longest sequence the model reads
    feed_forward: str = "gelu"
    # "gelu":   GPT-2/GPT-3: fc1, fc2 and all projections with biases, LayerNorms, learned
    #           position embeddings, the output layer tied to the token embedding.
    # "swiglu": LLaMA: gate/up/down projections, no biases, RMSNorms, rotary positions (no
    #           weights), an untied output layer.

    @property
    def n_params(self) -> int:
        """The parameter count, from the shape alone (what the ``meta`` skeletons count)."""
        d, f = self.d_model, self.d_ff
        if self.feed_forward == "gelu":
            block = 2 * 2 * d + 4 * (d * d + d) + (f * d + f) + (d * f + d)  # norms, attn, MLP
            return (self.vocab_size + self.n_positions) * d + self.n_layers * block + 2 * d
        if self.feed_forward == "swiglu":
            block = 2 * d + 4 * d * d + 3 * d * f                               # norms, attn, MLP
            return 2 * self.vocab_size * d + self.n_layers * block + d
        raise ValueError(f"feed_forward is {self.feed_forward!r}; use 'gelu' (GPT) or "
                         "'swiglu' (LLaMA).")


GPT2_SMALL = DecoderShape(n_layers=12, d_model=768, d_ff=3072, vocab_size=50257,
                          n_positions=1024)
"""GPT-2 small, 124M (Radford et al., 2019)."""

GPT2_XL = DecoderShape(n_layers=48, d_model=1600, d_ff=6400, vocab_size=50257,
                       n_positions=1024)
"""GPT-2 XL, 1.5B (Radford et al., 2019)."""

LLAMA2_7B = DecoderShape(n_layers=32, d_model=4096, d_ff=11008, vocab_size=32000,
                         n_positions=4096, feed_forward="swiglu")
"""LLaMA-2-7B (Touvron et al., 2023): 6,738,415,616 parameters."""

GPT3_175B = DecoderShape(n_layers=96, d_model=12288, d_ff=49152, vocab_size=50257,
                         n_positions=2048)
"""GPT-3 175B (Brown et al., 2020, table 2.1)."""

MODEL_SHAPES = {"GPT-2 small (124M)": GPT2_SMALL, "GPT-2 XL (1.5B)": GPT2_XL,
                "LLaMA-2-7B": LLAMA2_7B, "GPT-3 175B": GPT3_175B}
"""The one table of real models: the LoRA calculator (notebook 4) offers the GPT-shaped ones,
the memory explorer (notebook 1) all of them."""
