"""Super-resolution data: HR image loading, the LR degradation protocol, and training patches."""
