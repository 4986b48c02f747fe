"""What the service tells a person directly (welcome, hygiene notices) and what it lets go of
once they leave."""
