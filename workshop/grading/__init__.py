"""The grading core: checks, results, renderers, and per-lesson grade, reset and solve."""
