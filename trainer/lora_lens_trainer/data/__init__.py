"""Dataset reading, cleaning, tokenization with label masks, and the seeded batch order."""
