"""The builder's contracts with its readers: the signed index document (``index.py``)."""
