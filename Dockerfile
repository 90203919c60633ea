# syntax=docker/dockerfile:1
# One image for every process: `node apps/api/dist/main.js` by default; compose runs
# the worker and the sandbox from the same image with another command.

# ---- build: install with dev dependencies, compile, then keep production ones only
FROM node:20-slim AS build
# Same major as package.json's packageManager; pnpm itself switches to the exact pinned
# version when it differs.
ARG PNPM_VERSION=10
RUN npm install -g pnpm@${PNPM_VERSION}
# CI=true: non-interactive pnpm; turbo must not prompt about or send telemetry.
ENV CI=true \
    TURBO_TELEMETRY_DISABLED=1
WORKDIR /app

# Lockfile first: `pnpm fetch` fills the store from it alone, so the slow download
# layer is cached until dependencies change, not on every source edit.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch

COPY . .
# After the build, node_modules is reinstalled without devDependencies (jest, swc,
# turbo, typescript) and sources and tests are dropped: the runtime needs only dist/.
RUN pnpm install --offline --frozen-lockfile \
 && pnpm build \
 && rm -rf node_modules apps/*/node_modules packages/*/node_modules test/node_modules \
 && pnpm install --offline --frozen-lockfile --prod \
 && rm -rf test apps/*/src packages/*/src

# ---- runtime: built code and production node_modules, nothing else
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and run as `node`: the process cannot rewrite its own code.
COPY --from=build /app /app
USER node
EXPOSE 8080
CMD ["node", "apps/api/dist/main.js"]
