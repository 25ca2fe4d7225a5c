# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:24-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Run: only the compiled code and the production dependencies, as a non-root user.
FROM node:24-alpine
ENV NODE_ENV=production \
    PRESENCE_HEALTH=0.0.0.0:9464
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# --state needs a directory the non-root user can write: mount a volume here (a named volume takes
# this ownership; a bind-mounted host directory must be writable by uid 1000)
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9464
# Healthy while every watched target polled successfully within 3 intervals (3 × rooms ÷ --max-rps
# when the budget cannot poll every room each interval), with --state the last state save
# succeeded, and no sink is disabled or failing every delivery (GET /healthz).
# Set PRESENCE_HEALTH= (empty) to turn the endpoint and this check off. An orchestrator that
# restarts unhealthy containers should probe GET /livez instead (a restart does not fix Daily).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const a=process.env.PRESENCE_HEALTH;if(!a)process.exit(0);const p=a.split(':').pop();fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["--help"]
