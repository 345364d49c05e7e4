"""A mesh of D1 cores (docs/mesh.md): its configuration and presets (``config``), the host's
edge port (``edge``) and the top (``mesh``: W×H cores, each with its router)."""
