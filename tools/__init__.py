"""Authoring tools: what the course's authors run, and no learner's install needs.

Run each from the repository root as a module, for example ``python -m tools.learner_copy``:
``learner_copy`` (learner notebooks from ``solutions/``), ``make_learner_notebooks`` (the
same, then stores their outputs), ``execute_notebooks``, ``pretrain`` and ``pretrain_gpt``
(the two course models' weights), ``extract_corpora`` (the language model's text) and
``colab_links``.
"""
