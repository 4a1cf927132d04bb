"""The bottom layer: plain-Python pieces every other package may import (no Django, no torch)."""
