# HomeFirst service image (README "Running it in containers"). Two stages: `build` makes the
# project's wheel and installs it with the locked versions (requirements.lock) into a virtual
# environment; `runtime` is a slim Python with that environment, the files the service reads
# beside it (alembic.ini, migrations/, pathways/) and nothing else: no compiler, no sources,
# no pip cache. One image for every role: `homefirst serve` (the default), `homefirst worker`,
# `homefirst db upgrade`, `homefirst adt listen`.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/homefirst
WORKDIR /src

# The dependencies first, at the lock's versions, in a layer of their own: it is rebuilt only
# when pyproject.toml or the lock changes. Only what the service imports (pyproject's
# `dependencies`); the lock's development tools stay out of the image.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > dependencies.txt \
    && /opt/homefirst/bin/pip install -c requirements.lock -r dependencies.txt

# Then the project itself, as a wheel (not editable: nothing points back at /src).
COPY README.md ./
COPY app ./app
RUN /opt/homefirst/bin/pip wheel --no-deps . -w /dist \
    && /opt/homefirst/bin/pip install -c requirements.lock /dist/homefirst-*.whl \
    && /opt/homefirst/bin/pip check


FROM python:3.11-slim AS runtime

# HOMEFIRST_ROOT: where the service finds alembic.ini, migrations/ and pathways/ (app/config.py).
# The default database is a SQLite file in /data; compose.yaml points DATABASE_URL at PostgreSQL.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/homefirst/bin:$PATH \
    HOMEFIRST_ROOT=/srv/homefirst \
    DATABASE_URL=sqlite:////data/homefirst.db

RUN useradd --system --uid 10001 --no-create-home --home-dir /srv/homefirst homefirst \
    && mkdir /data && chown homefirst /data

COPY --from=build /opt/homefirst /opt/homefirst
WORKDIR /srv/homefirst
COPY alembic.ini ./
COPY migrations ./migrations
COPY pathways ./pathways

# Everything above belongs to root: the service cannot change its own code or pathways.
USER homefirst

# 8000: the HTTP service. 2575: the HL7 v2 ADT listener, run from the same image as its own
# container: `homefirst adt listen --host 0.0.0.0 --port 2575 --no-migrate`.
EXPOSE 8000 2575

# Liveness of the HTTP service (the slim image has no curl). A container of this image that
# serves no HTTP (worker, migrate, adt listen) turns it off: compose.yaml does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# On its own (`docker run -p 8000:8000 -v homefirst-data:/data <image>`) the service migrates
# its database and runs the background jobs itself. compose.yaml runs the roles apart instead:
# `homefirst db upgrade` once, `serve --no-migrate --no-background`, and `homefirst worker`.
CMD ["homefirst", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
