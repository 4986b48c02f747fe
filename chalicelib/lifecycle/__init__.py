"""The lifecycle of a person's IAM user: onboard, move, suspend, restore, offboard and time-bound
grants; the roles they reach and the ~/.aws/config that reaches them; their Slack work and
schedules; the revocation of live sessions that ends each change."""
