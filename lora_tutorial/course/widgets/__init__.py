"""Interactive explorations used by the notebooks, one module per topic.

Every explorer follows one pattern: its controls are ``ipywidgets`` attributes that code and
tests can set, each control's change calls ``update()``, which redraws from the current
values, and figures are drawn with matplotlib's ``Figure`` (never ``pyplot``), so that no
stray figure appears in the notebook and none is left open.
"""
