# One image build, one target per service: `docker build --target registrar -t centralino/registrar .`
# The build stage installs the whole workspace from uv.lock (stubs are generated from proto/
# by the shared library's build hook); each target only changes the command.

FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir 'uv>=0.5'
WORKDIR /app
COPY . .
RUN uv sync --frozen --all-packages --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
# Shared libraries behind the media codecs and SRTP.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 libgsm1 libsrtp2-1 libbcg729-0 libspandsp2 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 centralino
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CENTRALINO_GRPC_LISTEN=0.0.0.0:50051
USER centralino

FROM runtime AS config-api
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50051 CENTRALINO_API_LISTEN=0.0.0.0:8080
EXPOSE 8080 50051
CMD ["centralino-config-api"]

FROM runtime AS registrar
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50052 CENTRALINO_SIP_HOST=0.0.0.0
EXPOSE 5060/udp 5060/tcp 5061/tcp 8088/tcp 8089/tcp 50052
CMD ["centralino-registrar"]

FROM runtime AS router
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50053
EXPOSE 50053
CMD ["centralino-router"]

FROM runtime AS media
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50054
EXPOSE 50054
CMD ["centralino-media"]

FROM runtime AS licensing
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50055
EXPOSE 50055
CMD ["centralino-licensing"]

FROM runtime AS directory
ENV CENTRALINO_GRPC_LISTEN=0.0.0.0:50056
EXPOSE 1389 1161/udp 50056
CMD ["centralino-directory"]
