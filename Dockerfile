# filestore agent image: build with the Swift toolchain, run on a slim Debian with only the
# runtime libraries (the Swift runtime is linked in statically).
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev libxml2-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift declares the test targets too, so their folders must be present to resolve.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts ./scripts
RUN swift build -c release --product filestore --static-swift-stdlib \
    && cp .build/release/filestore /usr/local/bin/filestore \
    && cp -r .build/release/filestore_Agent.resources /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-0 libxml2 ca-certificates curl tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/filestore --create-home filestore
COPY --from=build /usr/local/bin/filestore /usr/local/bin/filestore
# The dashboard's templates and static files are looked up beside the executable.
COPY --from=build /usr/local/bin/filestore_Agent.resources /usr/local/bin/filestore_Agent.resources
USER filestore
WORKDIR /var/lib/filestore
# HTTP (API, web UI, internal API, metrics), S3 and gossip.
EXPOSE 8080 3900 7946/udp
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD curl -fsS http://127.0.0.1:8080/api/v1/health || exit 1
ENTRYPOINT ["filestore"]
CMD ["agent", "--config", "/etc/filestore/cluster.yml", "--node", "node1", "--data-dir", "/var/lib/filestore"]
