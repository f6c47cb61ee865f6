"""Bundled lung nodule type classifier plugin (network definition only; weights in ../weights.safetensors)."""
