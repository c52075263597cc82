# syntax=docker/dockerfile:1
# todo-connect: one binary, one SQLite file in the /data volume.
#   docker build -t todo-connect .
#   docker run -p 3000:3000 -v todo-data:/data -e SITE_URL=https://todo.example.com todo-connect
# Templates, assets, migrations and default configuration are compiled into the binary, so the
# runtime image holds only the binary and CA certificates (for the key server and Confluence).

# ---- build --------------------------------------------------------------------------------------
FROM rust:1.95.0-slim-trixie AS build
WORKDIR /src
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never

# Dependencies first, against an empty crate: this layer is rebuilt only when Cargo.toml or
# Cargo.lock change. (Bench targets are declared in Cargo.toml, so their files must exist, and
# so must the workspace's test-support crate, though the release build never compiles it.)
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY testkit ./testkit
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/todo-connect* target/release/deps/todo_connect-* \
           target/release/deps/libtodo_connect-* target/release/.fingerprint/todo-connect-*

# The application itself.
COPY src ./src
COPY templates ./templates
COPY assets ./assets
COPY db/migrations ./db/migrations
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && install -D -m 0755 target/release/todo-connect /out/todo-connect

# ---- runtime ------------------------------------------------------------------------------------
FROM debian:trixie-slim AS runtime
# ca-certificates is left unpinned on purpose: Debian security updates replace old versions in
# the archive, so a pinned version would break the build; trixie-slim pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 todo \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin todo \
 && mkdir -p /data \
 && chown 10001:10001 /data

COPY --from=build /out/todo-connect /usr/local/bin/todo-connect

# Nothing is read from or written to the working directory; an optional
# config/production.toml may be mounted at /app/config/production.toml.
WORKDIR /app
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_PATH=/data/todo.sqlite3 \
    RUST_LOG=info
# Named volumes copy the ownership of /data from the image on first use.
VOLUME /data
EXPOSE 3000
USER 10001:10001

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["todo-connect", "healthcheck"]
# SIGTERM: stop accepting, finish in-flight requests (up to 30 s), exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["todo-connect"]
CMD ["serve"]
