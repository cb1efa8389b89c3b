"""Paddle models and the page's own facts: the 14 variants, their architectures, counts, weights, export."""
