"""What the parts of the system agree on: the flight event, the marks of ``airlines smoke``
and where the analytics live in Redis. Everything else imports from here; this package
imports nothing of the system."""
