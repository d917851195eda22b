//! ghost-backbone (under construction)
