"""The FibTastic worker dyno: ``python -m worker``. It imports ``jobs``, never ``web``: no Flask on a worker dyno."""
