"""SMS channel: outgoing messages (local outbox or the Kannel gateway) and the CXMYD query flow."""
