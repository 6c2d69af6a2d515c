"""The admin console's services, one module per area (no HTTP here; every change is audited in its own
transaction): `people`, `departments`, `imports` (the job) with `import_plan` (the dry run), `giving` (company
values and the allowance policy) and `audit_log` (reading the log). `rules` holds what they share."""
