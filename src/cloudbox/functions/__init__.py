"""Functions and the function domains that route to them."""
