"""Pages people use in a browser, outside the JSON API."""
