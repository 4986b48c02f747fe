"""The IAM lifecycle service: domain operations, gateways to AWS, and their wiring."""
