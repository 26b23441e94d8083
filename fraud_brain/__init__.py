"""fraud_brain: a streaming risk-scoring engine for telecom and payment fraud.

Data flows one way: ``schema`` (typed records, validation) → ``io`` (files, dead letters)
→ ``sim`` (a scam world for demos and tests) → ``features`` (keyed streaming state)
→ ``scoring`` (LightGBM + river, reason codes) → ``rules`` → ``actions`` → ``api`` / ``cli``.
"""

__version__ = "0.1.0"
