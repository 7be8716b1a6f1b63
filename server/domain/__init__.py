"""Pure domain logic: accounts, streams, the cohost seat. No aiohttp, aiortc or Socket.IO."""
