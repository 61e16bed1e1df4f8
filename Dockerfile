# Tandem app image: one image for web, bot and worker (docker-compose.yml picks the command);
# the default command runs everything in one process.
FROM node:20-bookworm-slim

WORKDIR /app

# Manifests first, so dependencies are reinstalled only when they change.
# Keep this list in step with "workspaces" in package.json.
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY bot/package.json bot/
COPY worker/package.json worker/
COPY web/package.json web/
# Full install, not --omit=dev: the app runs TypeScript through tsx and ships no build step.
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .
# Built here, not at first start: the web service runs as the unprivileged `node` user, which
# cannot write into /app.
RUN npm run build:ui
# The sandbox gateway's socket directory (a volume the engine mounts into sandboxes) and its CA,
# owned by the user the web service runs as; a named volume starts with this ownership.
RUN install -d -o node -g node /data/gateway /data/gateway-ca

# Set after `npm ci`, which would otherwise skip devDependencies.
ENV NODE_ENV=production
EXPOSE 3000
CMD ["npm", "start"]
