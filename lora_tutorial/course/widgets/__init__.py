"""Interactive explorations used by the notebooks, one module per topic."""
