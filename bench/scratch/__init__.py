"""Prototypes that quantify optimisations of src/cloudbox before anyone makes them.

Not part of the bench run. Each script measures the current code path and candidate
replacements on the same data, in the same process, and prints rows per second.
"""
