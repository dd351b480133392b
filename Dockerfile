# syntax=docker/dockerfile:1
#
# One multi-target file for every capcheck image: the three services share one workspace, one
# lockfile and one TypeScript build, so they share one build stage (built once, cached once) and
# differ only in their last few lines. Build one with `docker build --target users .`; compose
# names the target of each service (docker-compose.yml).
#
#   users, images, inference   node:20 slim, production dependencies only, non-root, node as PID 1
#   nginx                      the web UI (web/dist) and the error pages, on nginx-unprivileged
#
# Pinned bases: one Node version for build and run, so native addons (bcrypt, better-sqlite3)
# compiled in `build` load in the runtime images (same Debian release, same glibc, same ABI).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.28.0-alpine

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
# bcrypt and better-sqlite3 compile from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# The exact pnpm of package.json's packageManager field.
RUN npm install -g pnpm@10.34.9 && pnpm --version
ENV CI=true
WORKDIR /src
# Dependencies first: this layer is reused until the lockfile changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
# The services' TypeScript only (`tsc -b`); the web page is built in its own stage below.
RUN pnpm install --frozen-lockfile --offline \
 && pnpm exec tsc -b
# One self-contained folder per service: its dist, and its production dependencies only (workspace
# packages such as @capcheck/shared are copied in, not linked). inject-workspace-packages lets
# pnpm 10 deploy from the shared lockfile instead of resolving again. onnxruntime-node ships every
# platform's library (~290 MB); a Linux image keeps Linux's (~70 MB). koffi (28 MB) and libjpeg-turbo
# (8 MB) likewise.
RUN for s in users images inference; do \
      pnpm --config.inject-workspace-packages=true --filter "@capcheck/$s" deploy --prod --offline "/out/$s" \
      && rm -rf "/out/$s/src" "/out/$s/test" "/out/$s/tsconfig.json" "/out/$s/tsconfig.tsbuildinfo"; \
    done \
 && rm -rf /out/inference/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v*/win32 \
           /out/inference/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v*/darwin \
           /out/inference/node_modules/.pnpm/koffi@*/node_modules/koffi/build/koffi/[dfow]* \
           /out/inference/node_modules/.pnpm/@julusian+jpeg-turbo@*/node_modules/@julusian/jpeg-turbo/prebuilds/*-[dw]* \
 && mkdir -p /out/adapted-models
# v4's preprocessing calls libjpeg-turbo through koffi, both prebuilt in npm packages, and a WebAssembly
# letterbox: prove that the pruned folder still loads them, so a wrong pruning fails the build, not a v4
# replica's first picture.
RUN cd /out/inference && node -e "require('./dist/data-access/turbojpeg.js').jpegHeader(require('node:fs').readFileSync('/src/models/bottle-state/samples/closed-1.jpg')); require('./dist/data-access/area-letterbox.js').loadAreaLetterbox()"

FROM build AS web-build
RUN pnpm --filter web build

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# The code is owned by root and only readable by the `node` user (uid 1000) that runs it.
USER node
# Liveness only: Traefik's own health check asks /readyz. Slim images have no curl; Node has fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The services handle SIGTERM themselves (drain, close stores, exit 0), so node runs as PID 1 in
# exec form: no shell in between to swallow the signal. It starts no child processes to reap.
STOPSIGNAL SIGTERM

FROM runtime AS users
COPY --from=build /out/users /app
ENV PORT=8081
EXPOSE 8081
CMD ["node", "dist/main.js"]

FROM runtime AS images
COPY --from=build /out/images /app
ENV PORT=8082
EXPOSE 8082
CMD ["node", "dist/main.js"]

FROM runtime AS inference
COPY --from=build /out/inference /app
# The model is part of the image: a replica never starts without the exact bytes it was tested with
# (the manifest's sha256 is checked at start-up).
COPY models/ /app/models/
ENV PORT=8083 MODEL_DIR=/app/models
# Adapted model versions go to a volume mounted here (ADAPTED_MODEL_DIR): the (empty) folder exists
# in the image, owned by node, so a fresh named volume takes that owner and node can write to it.
COPY --from=build --chown=node:node /out/adapted-models /var/lib/capcheck/models
EXPOSE 8083
CMD ["node", "dist/main.js"]

# ---------------------------------------------------------------------------------------------
# Runs as uid 101 and listens on 8080 (nginx/README.md).
FROM ${NGINX_IMAGE} AS nginx
COPY nginx/nginx.conf /etc/nginx/nginx.conf
COPY nginx/errors/ /usr/share/nginx/errors/
COPY --from=web-build /src/web/dist/ /usr/share/nginx/html/
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
# SIGQUIT is nginx's graceful stop: in-flight requests finish.
STOPSIGNAL SIGQUIT
