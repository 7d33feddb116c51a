# zonegate's container image (issue 17).
#
#   docker build -t zonegate .
#   docker run -p 5000:5000 -v "$PWD/routes.json:/srv/zonegate/routes.json:ro" \
#     -v zonegate-data:/data -e ZONEGATE_SECRET_KEY=... -e TENANT_HOST_PATTERN=... zonegate
#
# The image runs `zonegate start` in /srv/zonegate, which holds the configuration (routes.json, and
# xs-security.json for the built-in zones, static files): mount them there or COPY them in an image
# FROM this one. The embedded store lives in the /data volume; with several instances use
# PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) instead (README, "Environment").

# Build: the compiled package exactly as `npm pack` makes it (prepack builds dist/; package.json
# "files" says what ships), which test/deploy/packed-package.test.ts installs and starts.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# tsc does not need better-sqlite3's addon; the runtime's comes from the deps stage.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json routes.json xs-security.json ./
COPY src ./src
COPY public ./public
RUN npm pack --pack-destination /tmp \
 && mkdir /opt/zonegate \
 && tar -xzf /tmp/zonegate-*.tgz -C /opt/zonegate --strip-components=1

# Production dependencies, at the lockfile's versions. better-sqlite3 downloads a prebuilt addon,
# or compiles one where none is published or the download is blocked: hence the compilers, which
# stay in this stage.
FROM node:20-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/zonegate
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production \
    PORT=5000 \
    ZONEGATE_DATA_DIR=/data
COPY --from=build /opt/zonegate /opt/zonegate
COPY --from=deps /opt/zonegate/node_modules /opt/zonegate/node_modules
# The data directory belongs to the unprivileged user (zonegate creates its files 0600); the code
# and the configuration do not, so a compromised process cannot change either.
RUN mkdir -p /data /srv/zonegate && chown node:node /data && chmod 0700 /data
WORKDIR /srv/zonegate
USER node
VOLUME /data
EXPOSE 5000
# Liveness only: /healthz never asks the store (README, "Operations"). node:20-slim has no curl.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# zonegate handles SIGTERM itself (drains, then exits 0), so node may run as PID 1.
ENTRYPOINT ["node", "/opt/zonegate/dist/src/cli.js"]
CMD ["start"]
