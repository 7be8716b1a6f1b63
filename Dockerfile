# The browser libraries the server serves at /vendor/ (Socket.IO client, hls.js,
# uPlot), installed from package-lock.json exactly as `make` does.
FROM node:20-slim AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY media ./media
COPY signaling ./signaling
COPY static ./static
COPY --from=web /web/node_modules ./node_modules
# Editable: the server finds its pages in /app/static and the browser libraries in
# /app/node_modules, next to the packages.
RUN pip install --no-cache-dir -e . \
    && useradd --create-home costream \
    && mkdir -p /app/data && chown costream /app/data

USER costream
# In a container, gather ICE candidates on every interface, not just loopback;
# set COSTREAM_ICE_PUBLIC_ADDRESS to the host's public IP behind NAT.
ENV COSTREAM_DATA_DIR=/app/data \
    COSTREAM_ICE_HOST_ADDRESSES=""
VOLUME ["/app/data"]
EXPOSE 8080
CMD ["costream", "serve", "--host", "0.0.0.0"]
