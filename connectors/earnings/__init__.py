"""Earnings-call analysis: speakers, reported figures, guidance, Q&A pairs and a grounded summary."""
