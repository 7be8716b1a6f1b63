"""Costream transports: WHIP/WHEP (SDP over HTTP) and realtime (Socket.IO)."""
