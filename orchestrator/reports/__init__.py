"""What the ledger and the outputs tell a person: status, export, and the report of what
moved. Read-only: nothing here posts, settles or writes a ledger."""
