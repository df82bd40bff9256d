"""Launching model servers and recording what served the numbers."""
