"""fbplan: declarative provisioning for the Flashback platform."""

__version__ = "0.1.0"
