"""`make bench`: speed and memory numbers for the whole kit."""
