# syntax=docker/dockerfile:1
# The TLS-terminating proxy of deploy/compose.yaml: Caddy with deploy/Caddyfile, unprivileged. Build from the
# repository root:
#   docker build -f deploy/proxy.Dockerfile -t quire-proxy:latest .
# /data keeps Caddy's certificates and keys; a volume mounted there takes this directory's owner.
FROM caddy:2.11-alpine
COPY deploy/Caddyfile /etc/caddy/Caddyfile
RUN chown -R 10001:10001 /data /config
USER 10001:10001
EXPOSE 80 443
