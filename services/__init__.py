"""The application layer: each use case once, for the bot, the control API and the portal.

Interfaces parse input and render output; what a use case checks (role, plan), starts
(through `services.automations`, the one door into Temporal), audits and counts lives here.
"""
