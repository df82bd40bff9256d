"""Answer graders, each reproducing a benchmark's own scoring semantics."""
