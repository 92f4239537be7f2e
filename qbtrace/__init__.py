"""qbtrace: explains why OAuth token requests to QuickBooks Online fail, from captured traffic."""

__version__ = "0.1.0"
