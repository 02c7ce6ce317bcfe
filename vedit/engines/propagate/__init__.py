"""The ``propagate`` removal engine's stages (camera model, source selection)."""
