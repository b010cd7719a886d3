"""Workshop kit: grading model, cluster helpers and the command-line tool."""
