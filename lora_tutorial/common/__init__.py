"""Small helpers every part of the package shares, none of them about LoRA: writing files
safely (``files``), tables for notebooks and terminals (``tables``), a widget shown with a
static copy for viewers without a kernel (``display``), the lazy exports of a
package's ``__init__`` (``lazy``) and the top-level error handler of a command line
(``cli``). They import neither PyTorch nor any other part."""
