"""Server-rendered pages people work in (issue #14): the tracker, case pages and their forms."""
