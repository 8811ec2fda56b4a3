# The operator tool image: only unison-admin and its own dependencies, run as a one-shot
# container (compose profile `tools`) against the services' APIs. Build from the
# repository root:  docker build -f devstack/admin.Dockerfile .
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY clients/python clients/python
COPY tools/admin tools/admin
RUN uv sync --frozen --no-dev --no-editable --package unison-admin

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 unison \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
    --shell /usr/sbin/nologin unison
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
# A command, not a server: no port, nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["unison-admin"]
CMD ["--help"]
