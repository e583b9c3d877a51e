"""Local stand-ins of the outside services, speaking their published HTTP APIs.

The demo, the tests and the benchmarks run against these: the Luma simulator (`luma`), the
Telegram Bot API (`telegram`), Gemini (`gemini`), Stripe (`stripe`) and the enrichment
providers (`enrichment`). Nothing in the product imports them, and the production image
leaves this package out (see the Dockerfile and tests/deploy/test_image.py).
"""
