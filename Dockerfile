# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the full dependency tree.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" build runs below, once the sources are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies, compiled code, views and default config only.
FROM node:24-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# The image already has Node 24: drop the npm-registry Node binaries that npm ci brings for older hosts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node-linux-* node_modules/node-darwin-* node_modules/node-win-* node_modules/.bin/node \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY views ./views
COPY config ./config
RUN printf '#!/bin/sh\nexec node /app/dist/bin/admin.js "$@"\n' > /usr/local/bin/gatehouse-admin \
 && chmod 755 /usr/local/bin/gatehouse-admin
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
