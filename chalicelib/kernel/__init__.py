"""The small kernel every capability stands on: errors, identity, the catalogue of actions, waves,
the change runner with its lease and dry-run recording, telemetry and tracing. It imports no
capability, no edge and no AWS adapter: those reach it through ports the composition root fills."""
