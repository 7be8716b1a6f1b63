"""Costream media: WHIP publishers in, one composite encode, WHEP viewers out.

This package knows aiortc and PyAV, stream ids and seats; never HTTP,
Socket.IO, accounts or orders.
"""
