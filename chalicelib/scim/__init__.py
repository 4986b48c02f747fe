"""SCIM 2.0 for identity providers (Okta, Microsoft Entra ID): the protocol this service publishes,
what a provider sends read as far as it can be, and provisioning through the lifecycle."""
