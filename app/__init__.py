"""HomeFirst: discharge, continuing-healthcare and intermediate-care workflows."""
