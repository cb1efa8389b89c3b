"""Is the fast engine still the same model: verify against Paddle, accuracy on images."""
