"""Hot statements: compiled once per process and run on psycopg's own cursor.

On the busiest requests (a seat click, a grid poll, the seat map page) SQLAlchemy's
execute layer (the statement's cache key, an execution context, a result object) cost
more CPU than the statements themselves. A statement marked with `hot()` is compiled once
for PostgreSQL and `execute_core` runs it with the driver's cursor on the session's own
connection, in its transaction, as SQLAlchemy would: the column types' bind and result
conversions are applied, the engine's `before_cursor_execute` listeners are told (tests
count statements with them), and a driver error is raised as SQLAlchemy's exception for
it, the connection invalidated when it was lost. What this can't run that way (another
database, an expanding IN list, several rows of parameters) goes through SQLAlchemy.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import psycopg
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

E = TypeVar("E", bound=Executable)

_REQUIRED = object()
# id(statement) -> the statement (held, so that its id is never reused)
_hot: dict[int, Executable] = {}
# id(statement) -> its plan, made on its first run on PostgreSQL (None: SQLAlchemy runs it)
_plans: dict[int, _Plan | None] = {}


def hot(statement: E) -> E:
    """Mark a module-level Core statement to run on the driver (returned unchanged)."""
    _hot[id(statement)] = statement
    return statement


@dataclass(frozen=True)
class _Plan:
    sql: str
    fixed: dict[str, Any]  # the statement's own values (literals), converted once
    # The caller's parameters: name, its default (_REQUIRED: none) and its conversion
    given: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    row: Any  # the row class (None: the statement returns no rows)
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # columns to convert


def plan_for(statement: Executable, connection: Connection) -> _Plan | None:
    """The driver plan of a hot statement on this connection, or None (run it through
    SQLAlchemy)."""
    key = id(statement)
    if key not in _hot or connection.dialect.name != "postgresql":
        return None
    if key not in _plans:
        _plans[key] = _make_plan(statement, connection.dialect)
    return _plans[key]


def _make_plan(statement: Any, dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.positional or compiled.post_compile_params or compiled.escaped_bind_names:
        return None  # expanding IN lists and the like: SQLAlchemy renders them per call
    fixed: dict[str, Any] = {}
    given = []
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:
            return None  # a value worked out per execution
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.key != name:  # anonymous: a literal of the statement
            fixed[name] = bind.value if process is None else process(bind.value)
        else:
            default = _REQUIRED if bind.required else bind.value
            given.append((name, default, process))
    columns = list(getattr(statement, "exported_columns", ()))
    row = None
    results = []
    if columns:
        names = [column.key for column in columns]
        try:
            base = namedtuple("Row", names)  # type: ignore[misc]
        except ValueError:
            return None  # a name that isn't an identifier, or twice
        row = type("Row", (base,), {"__slots__": (), "_mapping": property(base._asdict)})
        for index, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                results.append((index, process))
    return _Plan(str(compiled), fixed, tuple(given), row, tuple(results))


def run(connection: Connection, plan: _Plan, params: Mapping[str, Any]) -> DriverResult:
    """Run a planned statement on the connection's driver cursor, in its transaction."""
    values = dict(plan.fixed)
    for name, default, process in plan.given:
        value = params.get(name, default)
        if value is _REQUIRED:
            raise exc.InvalidRequestError(f"A value is required for bind parameter {name!r}")
        values[name] = value if process is None else process(value)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, plan.sql, values, None, False)
        try:
            cursor.execute(plan.sql, values)
            # (Not cursor.description: it builds a column object per column, each time.)
            fetched = cursor.fetchall() if plan.row is not None else []
        except psycopg.Error as error:
            raise _wrapped(connection, error, plan.sql, values, cursor) from error
        rowcount = cursor.rowcount
    rows = [plan.row._make(_converted(r, plan.results)) for r in fetched] if plan.row else []
    return DriverResult(rows, rowcount)


def _converted(row: tuple[Any, ...], results: tuple[tuple[int, Callable[[Any], Any]], ...]) -> Any:
    if not results:
        return row
    values = list(row)
    for index, process in results:
        values[index] = process(values[index])
    return values


def _wrapped(
    connection: Connection, error: psycopg.Error, sql: str, values: Any, cursor: Any
) -> exc.StatementError:
    """The error as SQLAlchemy raises it (IntegrityError, OperationalError, …); a lost
    connection is invalidated so the pool replaces it."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(cast(Any, error), connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql,
        values,
        error,
        psycopg.Error,
        dialect=dialect,
        connection_invalidated=lost,
        ismulti=False,
    )


class DriverResult:
    """The rows of a hot statement, with the part of SQLAlchemy's Result the services
    use (rows with attribute access, as SQLAlchemy's Row has)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def scalars(self) -> DriverResult:
        return DriverResult([row[0] for row in self._rows], self.rowcount)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None
