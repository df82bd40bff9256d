"""Command implementations above the run layer: they may use suites, runs and readers."""
