"""Cases: create, read, list, fire events, history."""
