# syntax=docker/dockerfile:1
# OpenFaaS Federated Gateway: build with dev dependencies, ship production dependencies and dist/.
# test/image/image.spec.ts replays this file's COPY and RUN steps outside Docker, so keep to
# ARG, FROM, WORKDIR, ENV, COPY, RUN, USER, EXPOSE, HEALTHCHECK and CMD.
# Node 24, the current LTS line. CI runs the whole test suite on Node 24 as well as on the
# machine's Node (.ci/run), so the runtime shipped here is one the tests ran on.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, no install scripts. --omit=optional as well, since npm keeps a
# dev package that a production one names as an optional peer (typescript, via @nestjs/graphql).
# The npm cache stays in BuildKit's cache mount, out of the image.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The official image's node user, by number: Kubernetes can check runAsNonRoot only against a
# numeric user (a name alone fails the pod with "cannot verify user is non-root").
USER 1000:1000
# 8080: public listener (REST passthrough, /graphql, /healthz); 8082: /metrics and /livez.
EXPOSE 8080 8082
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.metrics_port||8082)+'/livez',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# --max-semi-space-size=16: V8's young generation capped at 16 MiB a half (Node 24 otherwise takes
# up to 64 MiB on a large node), which keeps RSS flat under load and over aborted uploads at the
# same throughput: measured in docs/performance.md.
CMD ["node", "--max-semi-space-size=16", "dist/main.js"]
