"""Models and test-bench parts of the core's units (``hw/core``)."""
