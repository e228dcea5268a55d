# syntax=docker/dockerfile:1
#
# Folio in a container: built with the toolchain of Cargo.toml's
# rust-version, run on Debian slim as an unprivileged user.
#
#   docker build -t folio .
#   docker run --rm -p 8080:8080 folio                 # SQLite in /var/lib/folio
#   docker run --rm folio migrate                      # with DATABASE_URL=postgres://…
#
# docker-compose.yml runs two of these behind nginx; see deploy/README.md.

ARG RUST_VERSION=1.94

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# Dependencies first, in a layer of their own: it is rebuilt only when
# Cargo.toml, Cargo.lock or migrations/Cargo.toml change, not for every edit
# of Folio's sources. Empty stand-ins for the two crates of the workspace let
# cargo compile everything they depend on.
COPY Cargo.toml Cargo.lock ./
COPY migrations/Cargo.toml migrations/
RUN mkdir -p src migrations/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs migrations/src/lib.rs \
    && cargo build --release --locked --bin folio \
    && rm -rf src migrations/src

# Folio itself. playground/dist is embedded in the binary (rust-embed), so it
# is part of the build. The touch makes sure cargo sees the real sources as
# newer than the stand-ins it just built.
COPY src src
COPY migrations/src migrations/src
COPY playground/dist playground/dist
RUN touch src/main.rs src/lib.rs migrations/src/lib.rs \
    && cargo build --release --locked --bin folio \
    && install -D -m 0755 target/release/folio /out/folio

FROM debian:bookworm-slim AS runtime
# ca-certificates for TLS connections to Postgres or Redis (rediss://).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 folio \
    && useradd --system --uid 10001 --gid folio --home-dir /var/lib/folio --create-home \
        --shell /usr/sbin/nologin folio
COPY --from=builder /out/folio /usr/local/bin/folio

# The working directory is the folio user's: the SQLite default
# (sqlite://folio.db) lands there when no DATABASE_URL is given.
WORKDIR /var/lib/folio
USER folio:folio
ENV FOLIO_BIND=0.0.0.0:8080
EXPOSE 8080

# Ready means the database and Redis answer (/health/ready). No curl in the
# image: bash speaks enough HTTP/1.0 for this.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${FOLIO_BIND##*:} && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# SIGTERM (docker stop) makes Folio stop accepting, finish the requests in
# flight and close WebSockets with 1001.
STOPSIGNAL SIGTERM
ENTRYPOINT ["folio"]
CMD ["serve"]
