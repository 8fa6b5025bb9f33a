"""The two stack kinds: one platform stack per environment, one tenant stack per restaurant."""
