# herald: one image for `herald serve`, `herald agent` and `herald load`.
# Build:  docker build -t herald .
# Run:    docker compose up   (see docker-compose.yml)

# ---- build: the release binary ------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The cache mounts keep the crate registry and the build directory between
# builds, so a code change does not recompile every dependency.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin herald \
    && install -m 0755 target/release/herald /usr/local/bin/herald

# ---- runtime: a slim Debian with the binary and a non-root user ----------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/herald --create-home herald
COPY --from=build /usr/local/bin/herald /usr/local/bin/herald
COPY config/herald.toml /etc/herald/herald.toml
# The default SQLite directory is var/herald.sqlite3, relative to this.
WORKDIR /var/lib/herald
USER herald
# 8774: events API, directory, /healthz, /readyz, /metrics. 8775: agent waiter API.
EXPOSE 8774 8775
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve", "--config", "/etc/herald/herald.toml"]
