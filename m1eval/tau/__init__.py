"""TAU-bench airline and retail: databases, tools, reward (tau-bench's own semantics)."""
