"""Reference model, host-side tiling and testbench of the matrix units."""
