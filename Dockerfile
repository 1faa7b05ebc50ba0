# syntax=docker/dockerfile:1
# The gateway image: molt built as a static musl binary, on distroless `static` (CA certificates,
# /etc/passwd with `nonroot`, no shell). Build: `docker build -t molt .`
# Run: `docker run -p 18789:18789 -v molt-data:/data molt`

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev gcc
WORKDIR /src
COPY . .
# Same release profile as everywhere (lto thin, stripped, panic=abort); musl links statically.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin molt \
    && cp target/release/molt /molt \
    && mkdir -p /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /molt /usr/local/bin/molt
COPY --from=build --chown=65532:65532 /data /data
ENV MOLT_DATA_DIR=/data
EXPOSE 18789
USER nonroot
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/molt"]
CMD ["gateway", "--bind", "0.0.0.0", "--port", "18789"]
