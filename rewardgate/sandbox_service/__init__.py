"""The sandbox service: code runs for gateways, as their own deployment (``rewardgate sandbox-serve``).

``settings.py`` (its environment variables), ``protocol.py`` (the request it
reads and the replies it writes), ``app.py`` (the ASGI app: admission, the
run in its verifier pool, deadline and cancellation), ``metrics.py`` (its
Prometheus metrics, the queue its autoscaler reads). The gateway side is
rewardgate/sources/rule/sandbox/service_client.py; docs/deploy.md#3-the-code-sandbox.
"""
