"""Declarative base, naming convention and portable column types."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type and hands back naive values; this restores UTC on the way out
    and refuses naive values on the way in, so a local time can never be stored by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: HomeFirst stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }

    def __init__(self, **kwargs: Any) -> None:
        """A new row's columns, written straight to the instance.

        SQLAlchemy's default constructor sets each one through the attribute events, which keep
        a change history a new object does not need: it is inserted whole, from these same
        values. Skipping them is a third of the cost of building an event, a case or a clock
        (a backlog import builds thousands a second). Nothing here maps a relationship, but
        anything that is not a column still goes through setattr.
        """
        columns = _column_keys(type(self))
        values = self.__dict__
        for key, value in kwargs.items():
            if key in columns:
                values[key] = value
            elif hasattr(type(self), key):
                setattr(self, key, value)
            else:
                raise TypeError(f"{key!r} is an invalid keyword argument for {type(self).__name__}")


@cache
def _column_keys(cls: type[Base]) -> frozenset[str]:
    return frozenset(prop.key for prop in inspect(cls).column_attrs)
