"""Small helpers every part of the package shares, none of them about LoRA: writing files
safely (``files``), tables for notebooks and terminals (``tables``) and the lazy exports of a
package's ``__init__`` (``lazy``). They import neither PyTorch nor any other part."""
