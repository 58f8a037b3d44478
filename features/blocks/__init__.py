"""Feature blocks: the registry, generic parameterised blocks and the prepaid domain blocks."""
