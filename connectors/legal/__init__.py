"""Legal contract review: CUAD's 41 clause categories, normalised answers and a risk summary."""
