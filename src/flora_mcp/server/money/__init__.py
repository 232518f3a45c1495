"""Money: what a start will cost (quotes), the user's consent, and the one booking that owns a start."""
