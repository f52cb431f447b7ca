"""The catalogue: films, screens and their layouts, scheduling, posters."""
