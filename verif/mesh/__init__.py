"""Running programs on a mesh of cores (docs/mesh.md): the bench (``mesh_tb``), the runner
(``run``) and the mesh's C programs (``programs``)."""
