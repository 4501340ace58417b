# SynoChatGPT image. Built by `make docker` from the wheelhouse that `make wheelhouse` downloads,
# so the build itself needs no package index (the same wheels go into the .spk).
#   docker build --build-arg WHEELHOUSE=build/wheelhouse/x86_64 -t synochatgpt .
# BASE_IMAGE must provide Python 3.11 as python3 (the wheels are cp311) and useradd.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG WHEELHOUSE=build/wheelhouse/x86_64
COPY ${WHEELHOUSE} /wheels
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check --find-links /wheels synochatgpt \
 && /opt/venv/bin/pip uninstall --yes --quiet setuptools pip

# The final stage copies only the venv: no wheels, pip or caches stay in the image.
FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SYNOCHATGPT_HOST=0.0.0.0 \
    SYNOCHATGPT_PORT=8008 \
    SYNOCHATGPT_DATA_DIR=/data \
    SYNOCHATGPT_RUNTIME=docker
# SYNOCHATGPT_RUNTIME: the login page then gives the docker exec command for a forgotten password.
# A fixed uid, so a folder on the NAS can be given to it: chown 8008 <folder>.
RUN useradd --system --uid 8008 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin synochatgpt \
 && mkdir -p /data && chown 8008:8008 /data && chmod 700 /data
COPY --from=build /opt/venv /opt/venv
USER 8008:8008
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8008
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "app", "healthcheck"]
# Exec form: Python is PID 1 and gets SIGTERM itself, so `docker stop` ends it cleanly.
ENTRYPOINT ["/opt/venv/bin/python", "-m", "app"]
CMD ["serve"]
