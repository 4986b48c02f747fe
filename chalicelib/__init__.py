"""The IAM lifecycle service: domain operations, gateways to AWS, and their wiring."""

# The capabilities declare their actions before any module of the service reads the catalogue.
from chalicelib import capabilities as capabilities
