"""The tickets' table (Powertools Idempotency), and the heartbeat Powertools lacks: a running
change keeps its ticket's in-progress record short-lived and renews it, so that a change whose
process died is taken over within seconds, not after the longest a change may take."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.aws.errors import aws_errors


class TicketStore(DynamoDBPersistenceLayer):
    def renew(self, payload: dict, seconds: int) -> bool:
        """The ticket of ``payload``, in progress, held ``seconds`` more from now; False when
        it is in progress no more (its answer saved, or the record gone). Called only by the
        change that holds the ticket, once Powertools configured the store for it."""
        key = self._get_key(self._get_hashed_idempotency_key(payload) or "")
        until = int((time.time() + seconds) * 1000)  # Powertools keeps milliseconds
        client: Any = self.client
        with aws_errors("renewing the ticket"):
            try:
                client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET #until = :until",
                    ConditionExpression="#status = :in_progress",
                    ExpressionAttributeNames={
                        "#until": self.in_progress_expiry_attr,
                        "#status": self.status_attr,
                    },
                    ExpressionAttributeValues={
                        ":until": {"N": str(until)},
                        ":in_progress": {"S": "INPROGRESS"},
                    },
                )
            except client.exceptions.ConditionalCheckFailedException:
                return False
        return True
