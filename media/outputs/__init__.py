"""Outputs beyond WebRTC, all fed from the one composite encode.

The room hands every encoded H.264 packet and every 20 ms of the full mix to
its `OutputHub`; the hub encodes the audio once to AAC and offers copies of
the packets to each output (HLS, recording, RTMP destinations). Each output
muxes on its own thread from a bounded queue that drops when it falls
behind, so no output can stall the show or another output.
"""

from media.outputs.hub import OutputHub, OutputPlan
from media.outputs.sink import EncodedPacket, MuxSink

__all__ = ["EncodedPacket", "MuxSink", "OutputHub", "OutputPlan"]
