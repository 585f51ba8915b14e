# Ditto container image: one static binary on an empty base.
#
#   make image                      # podman or docker, version from git
#   docker build --build-arg VERSION=v1.2.3 -t ditto .
#
# The final image holds /ditto, CA certificates and nothing else (no shell,
# no package manager): it runs as uid 65532, listens on 0.0.0.0:8080, and
# probes itself with `ditto healthcheck`. docs/deploy.md has the details.

# GO_IMAGE is any image with Go (at least go.mod's version) and /bin/sh; CI
# builds with one assembled locally, as no registry is reachable there.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build
# A proxy for module downloads, when the build must use another one.
ARG GOPROXY
# Modules first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ditto ./cmd/ditto && \
    /out/ditto version

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ditto /ditto
# Numeric, so it needs no /etc/passwd and Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# Inside a container the gateway must listen on every interface; a config
# file's server.addr does not override this (environment variables win).
ENV DITTO_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/ditto", "healthcheck"]
# SIGTERM drains in-flight requests for up to server.shutdown_timeout (20s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/ditto"]
CMD ["serve"]
