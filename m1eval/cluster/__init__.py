"""Container work on more than one host (``--executor ray``): SWE-bench gradings as Ray tasks
and LiveCodeBench programs through one sandbox pool per node, placed on the nodes that
advertise Docker capacity. The ``m1eval run`` process stays the only writer of the run."""
