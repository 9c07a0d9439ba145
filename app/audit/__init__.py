"""Access audit: who read which patient's data, when, through which endpoint."""
