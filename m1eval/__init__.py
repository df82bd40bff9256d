"""m1eval: reproduce MiniMax-M1's published results against an OpenAI-compatible server."""

__version__ = "0.1.0"
