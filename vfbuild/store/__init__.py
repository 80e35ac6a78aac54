"""Where builds put what they make: content-addressed objects, the recipe index, the
versioned layout, locks and prompts.txt."""
