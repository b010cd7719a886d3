"""Check builders, one module per topic, on the public base API in base.py; lessons compose them."""
