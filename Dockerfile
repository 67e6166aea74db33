# syntax=docker/dockerfile:1
#
# ConfusionMatrix.Actors silo image.
#   docker build -t confusionmatrix-actors:0.1.0 .
#   docker run --rm -p 8080:8080 confusionmatrix-actors:0.1.0
# One Kestrel port (8080) serves the HTTP API (/api/v1), the Orleans dashboard (/dashboard/),
# Prometheus (/metrics) and health (/health/live: the process answers; /health/ready and /health: cluster and storage). 11111 is the Orleans silo-to-silo
# port, 30000 the Orleans gateway port for clients.

ARG DOTNET_VERSION=10.0
ARG RUNTIME_IMAGE_SUFFIX=-noble-chiseled

# ---------------------------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src

ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Restore first, from the project files only (every project the silo references, directly or not: the test suite
# checks this list against the project references and runs these same restore and publish steps), so the package layer is cached until a
# project file or the central package versions change.
# global.json is deliberately not copied: it pins the developer SDK feature band (10.0.401,
# rollForward latestFeature), which the sdk:10.0 image may not carry; the image tag picks the SDK.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ConfusionMatrix.Abstractions/ConfusionMatrix.Abstractions.csproj src/ConfusionMatrix.Abstractions/
COPY src/ConfusionMatrix.Api.Contracts/ConfusionMatrix.Api.Contracts.csproj src/ConfusionMatrix.Api.Contracts/
COPY src/ConfusionMatrix.Core/ConfusionMatrix.Core.csproj                 src/ConfusionMatrix.Core/
COPY src/ConfusionMatrix.Grains/ConfusionMatrix.Grains.csproj             src/ConfusionMatrix.Grains/
COPY src/ConfusionMatrix.MLflow/ConfusionMatrix.MLflow.csproj             src/ConfusionMatrix.MLflow/
COPY src/ConfusionMatrix.Streaming.EventHubs/ConfusionMatrix.Streaming.EventHubs.csproj src/ConfusionMatrix.Streaming.EventHubs/
COPY src/ConfusionMatrix.Silo/ConfusionMatrix.Silo.csproj                 src/ConfusionMatrix.Silo/
RUN dotnet restore src/ConfusionMatrix.Silo/ConfusionMatrix.Silo.csproj

# Then the sources: src/ only. Tests, benchmarks and samples (the demo host, samples/ConfusionMatrix.Demo, among them)
# never enter the image; .dockerignore keeps tests, benchmarks, docs and helm out of the build context too.
COPY src/ src/
RUN dotnet publish src/ConfusionMatrix.Silo/ConfusionMatrix.Silo.csproj \
      -c Release \
      -o /app \
      --no-restore \
      /p:UseAppHost=false

# ---------------------------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------------------------
# The chiseled image has no shell and no package manager, and runs as a non-root user; the chart's preStop delay
# uses the Kubernetes sleep action, not a sleep binary. Use --build-arg RUNTIME_IMAGE_SUFFIX= for the full Debian base.
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}${RUNTIME_IMAGE_SUFFIX} AS runtime
WORKDIR /app

ARG APP_VERSION=0.1.0
LABEL org.opencontainers.image.title="ConfusionMatrix.Actors" \
      org.opencontainers.image.description="Orleans silo keeping live confusion matrices of ML models, with drift detection" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.licenses="MIT"

# In a container the app must listen on all interfaces (the app's own default is 127.0.0.1:8080).
# ASPNETCORE_HTTP_PORTS from the base image is cleared so ASP.NET Core does not warn that URLS overrides it.
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    ASPNETCORE_HTTP_PORTS= \
    DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_CLI_TELEMETRY_OPTOUT=1

COPY --from=build --chown=root:root /app ./

# 8080 HTTP (API, dashboard, /metrics, health), 11111 Orleans silo, 30000 Orleans gateway.
EXPOSE 8080 11111 30000

# The aspnet images define a non-root "app" user; APP_UID (1654) is set by the base image.
USER $APP_UID

ENTRYPOINT ["dotnet", "ConfusionMatrix.Silo.dll"]
