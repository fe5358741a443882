"""The FibTastic worker dyno: ``python -m worker`` (the Procfile's ``worker:`` line).

It imports ``jobs`` only, never ``web``: a worker dyno does not need Flask.
"""
