"""Import every method module so that each registers itself."""
