"""The admin web portal, served by the control API process under /web.

Server-rendered Jinja2 pages with plain forms (a small script only polls job progress and
selects rows), so it needs no front-end build. People sign in with a one-time link from the
bot's /web command; see `web.auth`.
"""
