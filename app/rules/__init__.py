"""Named guards and effects that pathway files may use. Importing this package registers them."""

from app.rules import chc, discharge, ic, ic_capacity, sample  # noqa: F401 - registers on import
