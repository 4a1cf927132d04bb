"""Literature synthesis: claim verification and cited synthesis over a corpus of papers."""
