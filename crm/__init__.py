"""CRM and Airtable sync: push the org's guest profiles to Airtable or HubSpot.

`base` is the connector interface (upsert keyed on email, pacing, 429s), `airtable` and
`hubspot` its two implementations, `fields` what is pushed and the change hash, `store` the
rows (each org's connector with its encrypted token, per-record sync state, runs), and
`connectors` how a connector is made from the configuration.
"""

NAMES = {"airtable": "Airtable", "hubspot": "HubSpot"}  # each connector's name, for people
