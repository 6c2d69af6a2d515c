"""HTTP for the admin console, one module per area: `overview` (the landing page), `people`, `departments`,
`imports`, `giving` (company values and allowances) and `audit`. `responses` holds what they share. Forms post
normally: done → 303 with a flash message; refused → the same page again with the messages next to the fields and
the rule's 4xx status, nothing changed."""
