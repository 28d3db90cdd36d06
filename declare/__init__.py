"""podium's declarative layer (import name ``podium.declare``): desired state, plans, apply."""
