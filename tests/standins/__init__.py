"""Loopback stand-ins for servers the tests talk to."""
