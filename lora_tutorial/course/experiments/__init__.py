"""The notebooks' experiments, each returning named records instead of bare tuples.

A notebook cell should show an idea and its result, not fifty lines of loops and
bookkeeping. When an experiment is heavier than its idea (a learning-rate search over seeds,
a sweep of ranks, a comparison of initialisations), its code lives in a module here, named
after what it measures, and returns records whose fields say what each number is
(``run.accuracy``, not ``run[2]``). The notebook first builds the idea by hand on one case,
then calls the helper for the full table.
"""
