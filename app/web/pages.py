"""HTML pages."""
ROUTES = []
