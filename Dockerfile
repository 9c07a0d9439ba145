# HomeFirst service image: migrations, then uvicorn. Point DATABASE_URL at PostgreSQL in
# production (postgresql+psycopg://user:pass@host/db); the default is a SQLite file in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/homefirst.db

RUN useradd --create-home --uid 10001 homefirst \
    && mkdir /data && chown homefirst /data

WORKDIR /srv/homefirst
COPY pyproject.toml requirements.lock README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY pathways ./pathways
# Editable, so the app finds alembic.ini, migrations/ and pathways/ beside it.
RUN pip install -c requirements.lock -e .

USER homefirst
# 8000: the HTTP service. 2575: the HL7 v2 ADT listener, run from the same image as its own
# container: `homefirst adt listen --host 0.0.0.0 --port 2575 --no-migrate`.
EXPOSE 8000 2575
# `serve` applies migrations (alembic upgrade head) and then starts uvicorn.
CMD ["homefirst", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
