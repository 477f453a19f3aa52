#!/bin/bash
# Container health check for arroyo-exporter: GET /-/healthy on the local port and
# succeed on HTTP 200. Uses bash's /dev/tcp so the runtime image needs neither curl nor
# wget. Port: $HEALTHCHECK_PORT (default 9731). Plain HTTP only: with TLS enabled on the
# exporter's web listener, override the image's HEALTHCHECK.
set -u
port="${HEALTHCHECK_PORT:-9731}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /-/healthy HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS=$' \r' read -r -t 5 _version status _rest <&3 || exit 1
[ "${status:-}" = "200" ]
