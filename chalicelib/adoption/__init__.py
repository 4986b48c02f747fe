"""Adoption: bringing IAM users the service did not create under its management, and back."""
