"""Checkers for the notebooks' exercises: specific feedback on a learner's code."""
