"""Generated documents (shipping labels as PDF and CSV)."""
