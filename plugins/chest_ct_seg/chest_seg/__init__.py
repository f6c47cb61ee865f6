"""Bundled chest CT segmentation plugin (network definition only; weights in ../weights.safetensors)."""
