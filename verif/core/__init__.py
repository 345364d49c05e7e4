"""Reference models of the D1 core's units (``verif.core.dma_model``: the DMA engine's
descriptor semantics). No simulator is needed to import them."""
