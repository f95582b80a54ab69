"""The judge's plug-in for vec01: dot products and lengths."""
