"""Outputs: JSON (the contract), text (the terminal), CSV, HTML (the report)."""
