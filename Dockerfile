FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY media ./media
COPY signaling ./signaling
COPY static ./static
# Editable: the server finds its pages in /app/static next to the packages.
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
