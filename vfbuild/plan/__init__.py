"""From a film and its locks to steps with recipes, and from those to a doit task graph."""
