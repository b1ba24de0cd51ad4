"""The trainer's space (docs/guide-formateur.md): trainer accounts (argon2, lock-out), the attempt
log's records, and the dashboard's figures. Domain only: no Starlette."""
