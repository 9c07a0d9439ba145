"""Durable SLA clocks: started, paused, resumed and stopped by the engine; swept for breaches."""
