"""A tiny GPT: a decoder-only transformer over bytes, with LLaMA's module names.

It predicts the next byte of a text from the bytes before it, and is built from the same
parts as LLaMA-family models, only much smaller (about 0.93 M parameters):

1. **Tokenizer**: the text's UTF-8 bytes *are* the tokens (256 symbols, :func:`encode` and
   :func:`decode`), so no vocabulary file and no extra dependency are needed. Real models
   use subword vocabularies of 32,000–150,000 tokens; bytes make sequences longer, nothing
   else changes.
2. **Embeddings**: ``embed_tokens`` maps each byte to a ``dim``-vector and a learned
   ``pos_embed`` adds where it sits (LLaMA rotates q and k instead, "RoPE"; learned positions
   as in GPT-2 are shorter to read).
3. ``depth`` pre-norm **blocks**, named as in Hugging Face's LLaMA: ``layers.0.self_attn``
   with ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``, then ``layers.0.mlp`` with the SwiGLU
   feed-forward ``gate_proj``, ``up_proj``, ``down_proj``. The norms are :class:`RMSNorm`.
   Every projection is a bias-free ``nn.Linear``, so ``target_modules=["q_proj", "v_proj"]``
   means here exactly what it means on a 7-billion-parameter model.
4. A **causal mask** lets position t attend to positions 0…t only: the model may not peek at
   the byte it has to predict.
5. A final ``norm`` and ``lm_head`` give 256 logits per position: a score for every next byte.

:func:`generate` continues a prompt, greedily or by sampling from a local
``torch.Generator``; :func:`load_pretrained_gpt` loads the weights shipped with the course
(pretrained on Python's documentation by ``python -m tools.pretrain_gpt``).
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .attention import Attention
from .hub import WEIGHTS_DIR, load_info, load_model, save_model

GPT_MODEL_NAME = "tiny_gpt_pydoc"
"""File stem of the shipped weights: ``tiny_gpt_pydoc.safetensors`` + ``.json``."""

VOCAB_SIZE = 256
"""One token per byte value."""


def encode(text: str) -> torch.Tensor:
    """The UTF-8 bytes of ``text`` as an int64 tensor of token ids 0–255."""
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.int64)


def decode(ids: torch.Tensor | list[int]) -> str:
    """Token ids back to text; a byte sequence that is not valid UTF-8 shows as ``�``."""
    values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    return bytes(values).decode("utf-8", errors="replace")


@dataclass
class TinyGPTConfig:
    """The hyperparameters that fully describe a :class:`TinyGPT` (saved as JSON)."""

    vocab_size: int = VOCAB_SIZE
    context: int = 64       # the longest sequence the model reads, in bytes
    dim: int = 128          # width of every token's vector (d_model)
    depth: int = 4          # number of transformer blocks
    heads: int = 4          # attention heads; each sees dim // heads channels
    mlp_hidden: int = 384   # width inside the SwiGLU feed-forward network


class RMSNorm(nn.Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019), as in LLaMA.

    Divides each vector by the root of its mean square and scales it by a learned weight.
    Unlike LayerNorm it neither subtracts the mean nor adds a bias: one less statistic, and
    in practice just as good.
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class CausalSelfAttention(Attention):
    """Multi-head attention in which each position sees only itself and earlier positions.

    The course's one :class:`~lora_tutorial.course.models.attention.Attention`, with LLaMA's
    bias-free projections and the causal mask switched on.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__(dim, heads, bias=False, causal=True)


class SwiGLU(nn.Module):
    """LLaMA's feed-forward network: ``down_proj(silu(gate_proj(x)) * up_proj(x))``.

    The gate decides, channel by channel, how much of ``up_proj(x)`` passes (Shazeer, 2020).
    Three matrices instead of two, which is why LLaMA's hidden width is about 8/3·dim
    rather than 4·dim: the same parameter budget.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderBlock(nn.Module):
    """A pre-norm block: ``x + self_attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim)
        self.self_attn = CausalSelfAttention(config.dim, config.heads)
        self.post_attention_layernorm = RMSNorm(config.dim)
        self.mlp = SwiGLU(config.dim, config.mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyGPT(nn.Module):
    """Map token ids ``(N, T)`` with ``T ≤ context`` to next-token logits ``(N, T, 256)``.

    The logits at position t score the byte that follows bytes 0..t.
    """

    def __init__(self, config: TinyGPTConfig | None = None):
        super().__init__()
        self.config = config or TinyGPTConfig()
        c = self.config
        self.embed_tokens = nn.Embedding(c.vocab_size, c.dim)
        self.pos_embed = nn.Embedding(c.context, c.dim)
        self.layers = nn.ModuleList(DecoderBlock(c) for _ in range(c.depth))
        self.norm = RMSNorm(c.dim)
        self.lm_head = nn.Linear(c.dim, c.vocab_size, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2's initialisation: small normal weights, so the first logits are near zero
        # and the first loss is near log(256) ≈ 5.55 nats, the loss of guessing uniformly.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (batch, tokens), got {tuple(ids.shape)}")
        tokens = ids.shape[1]
        if not 1 <= tokens <= self.config.context:
            raise ValueError(f"the model reads 1 to {self.config.context} tokens at a time, "
                             f"got {tokens}; keep only the last {self.config.context}.")
        positions = torch.arange(tokens, device=ids.device)
        x = self.embed_tokens(ids) + self.pos_embed(positions)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


@torch.no_grad()
def generate(model: nn.Module, prompt: str, max_new_tokens: int, temperature: float = 0.0,
             generator: torch.Generator | None = None) -> str:
    """Continue ``prompt`` by ``max_new_tokens`` bytes; return only the new text.

    - ``temperature=0``: greedy, always the most likely next byte (the same text every time).
    - ``temperature>0``: sample each byte from ``softmax(logits / temperature)``, drawing the
      random numbers from ``generator`` (required, a CPU ``torch.Generator``), so the same
      seed gives the same text and the global random state is never touched. Lower
      temperatures sharpen the distribution towards the greedy choice.

    ``model`` is any module that maps ``(1, T)`` ids to ``(1, T, 256)`` logits (a
    :class:`TinyGPT`, the same with LoRA layers, or a PEFT wrapper of it); it reads at most
    its context, so older bytes are dropped. The model is left in the mode it was in.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be ≥ 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0, got {temperature}")
    if temperature > 0 and generator is None:
        raise ValueError("sampling (temperature > 0) needs generator=torch.Generator()"
                         ".manual_seed(...), so that the same seed gives the same text.")
    if temperature == 0 and generator is not None:
        raise ValueError("greedy decoding (temperature=0) draws no random numbers; pass a "
                         "temperature > 0 to sample with the generator, or drop it.")
    ids = encode(prompt)
    if len(ids) == 0:
        raise ValueError("the prompt must contain at least one character")
    inner = getattr(model, "get_base_model", lambda: model)()   # PEFT wraps the TinyGPT
    context = inner.config.context
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    new: list[int] = []
    for _ in range(max_new_tokens):
        window = torch.cat([ids, torch.tensor(new, dtype=torch.int64)])[-context:]
        logits = model(window[None].to(device))[0, -1].double().cpu()
        if temperature == 0:
            next_id = int(logits.argmax())
        else:
            # Inverse-CDF sampling written out: one uniform number u per byte picks the
            # first byte whose cumulative probability exceeds u.
            cumulative = (logits / temperature).softmax(dim=-1).cumsum(dim=-1)
            u = torch.rand((), generator=generator, dtype=torch.float64)
            next_id = min(int(torch.searchsorted(cumulative, u, right=True)), VOCAB_SIZE - 1)
        new.append(next_id)
    model.train(was_training)
    return decode(new)


def save_pretrained_gpt(model: TinyGPT, directory: str | Path,
                        metrics: dict | None = None) -> Path:
    """Save ``model`` as ``tiny_gpt_pydoc.safetensors`` plus a JSON config in ``directory``.

    The JSON holds the :class:`TinyGPTConfig` and any ``metrics`` (the pretrain script
    records its validation losses, steps and seed). Returns the path of the weights file.
    """
    return save_model(model, directory, GPT_MODEL_NAME, metrics)


def load_pretrained_gpt_info(directory: str | Path = WEIGHTS_DIR) -> dict:
    """Read the JSON next to the weights: ``{"config": {...}, "metrics": {...}}``."""
    return load_info(directory, GPT_MODEL_NAME)


def load_pretrained_gpt(device: str | torch.device | None = None,
                        directory: str | Path = WEIGHTS_DIR) -> TinyGPT:
    """Load the pretrained :class:`TinyGPT` that ships with the course, in eval mode.

    The language-model twin of :func:`~lora_tutorial.course.models.load_pretrained`: build the
    architecture from the saved config, fill it with the saved weights, move it to
    ``device`` (default: :func:`~lora_tutorial.course.device.get_device`). Every call returns a
    fresh, identical copy.
    """
    return load_model(TinyGPT, TinyGPTConfig, directory, GPT_MODEL_NAME, device)
