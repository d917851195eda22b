//! ghost-layers (under construction)
