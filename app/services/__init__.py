"""Plain functions with explicit inputs; views and tasks call these."""
