"""The dataclasses that cross the Temporal boundary, one module per feature.

Workflows, activities and the code that starts jobs all import these (never each other's
modules for a type). They are plain data, so the workflow sandbox passes them through, and
Temporal's JSON converter stores them by field name: moving a class here changes no history.
"""
